"""The learner's progress page and their certificate of completion."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from web.services.progress import load_progress

bp = Blueprint("progress", __name__)


@bp.get("/progress")
@login_required
def overview() -> str:
    """Show completion per module, results per exercise, where to continue and what to do next."""
    progress = load_progress(current_app.extensions["course"], current_user)
    return render_template("progress/overview.html", progress=progress)


@bp.get("/progress/certificate")
@login_required
def certificate() -> tuple[str, int]:
    """Show a printable certificate once the course is complete; until then, say what is left."""
    progress = load_progress(current_app.extensions["course"], current_user)
    if not progress.is_complete():
        return render_template("progress/not_yet.html", progress=progress), 403
    return render_template("progress/certificate.html", progress=progress, completed_at=progress.completed_at()), 200
