"""Learners join and leave cohorts: a form for the code, a shareable /join/<code> link that prefills it, a list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from web.core import CSRF_EXPIRED_MESSAGE, confirm_page, csrf_recovery
from web.extensions import limiter, login_manager
from web.forms import JoinForm
from web.services import cohorts as svc

bp = Blueprint("cohorts", __name__)
# Wrong codes per learner per minute. Keyed by account, not address: a whole seminar room shares one address.
JOIN_GUESS_LIMIT = "10/minute"


def _join_rate_key() -> str:
    """Count join failures per logged-in account (anonymous posts are sent to log in before counting)."""
    return f"join:{current_user.get_id() if current_user.is_authenticated else request.remote_addr}"


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
@limiter.limit(JOIN_GUESS_LIMIT, key_func=_join_rate_key, deduct_when=lambda response: response.status_code == 400)
@login_required
def join_post() -> Any:
    """Join the cohort whose code was posted, or re-show the form with the problem."""
    code = JoinForm().code.data
    try:
        cohort, new = svc.join(current_user, code)
    except svc.CohortError as exc:
        return _form(code, str(exc), 400)
    flash(f"You have joined “{cohort.name}”." if new else f"You are already in “{cohort.name}”.", "success")
    return redirect(url_for("cohorts.join"))


@bp.route("/cohorts/<id:cohort_id>/leave", methods=["GET", "POST"])
@login_required
def leave(cohort_id: int) -> Any:
    """Ask, then take the learner out of one of their cohorts; a cohort they are not in is a 404."""
    # Not in the cohort, when asked or when it is done (another tab left first): the same 404 either way.
    try:
        cohort = svc.joined_cohort(current_user, cohort_id)
        if request.method == "GET":
            return confirm_page(
                f"Leave “{cohort.name}”?",
                ["Its instructor will no longer see your progress or your answers. Your own progress stays yours. To "
                 "come back you need the cohort's join code again."],
                url_for("cohorts.leave", cohort_id=cohort.id), "Leave this cohort", url_for("cohorts.join"))
        svc.leave(current_user, cohort.id)
    except svc.NotFound:
        abort(404)
    flash(f"You have left “{cohort.name}”.", "success")
    return redirect(url_for("cohorts.join"))


@csrf_recovery(bp, "join_post")
def join_with_expired_token() -> Any:
    """Re-show the join form with the code typed when its CSRF token expired (nobody joined)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return _form(JoinForm().code.data, CSRF_EXPIRED_MESSAGE, 400)
