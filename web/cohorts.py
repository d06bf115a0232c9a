"""Learners join cohorts: a form for the code, a shareable /join/<code> link that prefills it, and a list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from web.services import cohorts as svc

bp = Blueprint("cohorts", __name__)


def _form(code: str = "", error: str | None = None, status: int = 200) -> tuple[str, int]:
    """Render the join form with the learner's current cohorts."""
    return render_template("cohorts/join.html", code=code, error=error, mine=svc.my_cohorts(current_user)), status


@bp.get("/join")
@login_required
def join() -> tuple[str, int]:
    """Show the join form (empty)."""
    return _form()


@bp.get("/join/<code>")
@login_required
def join_link(code: str) -> tuple[str, int]:
    """Show the join form prefilled from a shared link; joining still needs the learner to press the button."""
    return _form(svc.normalise_code(code)[:20])


@bp.post("/join")
@login_required
def join_post() -> Any:
    """Join the cohort whose code was posted, or re-show the form with the problem."""
    code = request.form.get("code", "")[:40]
    try:
        cohort, new = svc.join(current_user, code)
    except svc.CohortError as exc:
        return _form(code, str(exc), 400)
    flash(f"You have joined “{cohort.name}”." if new else f"You are already in “{cohort.name}”.", "success")
    return redirect(url_for("cohorts.join"))
