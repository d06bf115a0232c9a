"""The learner's progress page, their certificate of completion, and its public verification page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from web.extensions import limiter
from web.forms import ActionForm, DisplayNameForm
from web.models import utcnow
from web.security import public_url
from web.services import certificates
from web.services import cohorts as cohort_svc
from web.services.progress import load_progress

bp = Blueprint("progress", __name__)
# Codes are unguessable; the limit only keeps anyone from hammering the table with guesses.
VERIFY_LIMIT = "60/minute"


@bp.get("/progress")
@login_required
def overview() -> str:
    """Show completion per module, results per exercise, where to continue and what to do next."""
    progress = load_progress(current_app.extensions["course"], current_user)
    return render_template("progress/overview.html", progress=progress, notices=cohort_svc.notices(current_user))


@bp.get("/progress/certificate")
@login_required
def certificate() -> tuple[str, int]:
    """Show a printable certificate once the course is complete; until then, say what is left.

    Without a display name it asks for one first: a certificate made out to an email address is no use.
    """
    progress = load_progress(current_app.extensions["course"], current_user)
    if not progress.is_complete():
        return render_template("progress/not_yet.html", progress=progress), 403
    if not current_user.display_name:
        form = DisplayNameForm(next=url_for("progress.certificate"))
        return render_template("progress/certificate_name.html", form=form), 200
    completed_at = progress.completed_at() or utcnow()
    issued = certificates.ensure(current_user, completed_at)
    return render_template("progress/certificate.html", progress=progress, completed_at=completed_at,
                           certificate=issued, action_form=ActionForm(),
                           verify_url=public_url("progress.verify", code=issued.code) if issued else None), 200


@bp.post("/progress/certificate/link")
@login_required
def certificate_link() -> Any:
    """Withdraw the certificate's public page (action=withdraw) or issue a new one with a new code (action=issue)."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    progress = load_progress(current_app.extensions["course"], current_user)
    if not progress.is_complete():
        return render_template("progress/not_yet.html", progress=progress), 403
    if request.form.get("action") == "issue":
        certificates.reissue(current_user, progress.completed_at() or utcnow())
        flash("Your certificate has a new verification link. Any earlier link no longer works.", "success")
    else:
        certificates.withdraw(current_user)
        flash("The public page of your certificate is withdrawn: its link no longer shows anything.", "success")
    return redirect(url_for("progress.certificate"))


@bp.get("/certificates/<code>")
@limiter.limit(VERIFY_LIMIT)
def verify(code: str) -> str:
    """Public page proving a certificate: the learner's name, the course and the date, and nothing else."""
    found = certificates.verify(code)
    if found is None or not found.user.display_name:
        abort(404)
    return render_template("progress/verify.html", certificate=found)
