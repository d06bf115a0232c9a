"""Admin pages: find users and change their roles (an admin cannot remove the last admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from web.extensions import db
from web.forms import OwnerForm, RoleForm
from web.inputs import whole_number
from web.instructor import role_required
from web.models import ROLES, Cohort
from web.services import accounts
from web.services import cohorts as cohort_svc

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Admins only; instructors and learners get 403.
admin_required = role_required(lambda user: user.is_admin)


@bp.get("/")
@admin_required
def index() -> str:
    """List users, newest first, filtered by ?q= (email or name) and ?role=, with a role form for each."""
    q = request.args.get("q", "").strip()[:100]
    role = request.args.get("role", "")
    role = role if role in ROLES else ""
    users = accounts.find_users(q, role, request.args.get("page", 1, type=whole_number))
    return render_template("admin/users.html", users=users, q=q, role=role, roles=ROLES)


@bp.post("/users/<id:user_id>/role")
@admin_required
def set_role(user_id: int) -> Any:
    """Change one user's role from the form, then go back to the list with the same search."""
    form = RoleForm()
    try:
        user = accounts.change_role_of(user_id, form.role.data)
    except accounts.UnknownUser:
        abort(404)
    except accounts.AccountError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.email} is now {'an' if user.role[0] in 'aeiou' else 'a'} {user.role}.", "success")
    return redirect(url_for("admin.index", q=form.q.data or None))


@bp.post("/cohorts/<id:cohort_id>/owner")
@admin_required
def set_cohort_owner(cohort_id: int) -> Any:
    """Give a cohort to another instructor, e.g. when its owner's account was deleted; back to its roster."""
    cohort = db.get_or_404(Cohort, cohort_id)
    try:
        owner = cohort_svc.set_owner(cohort, OwnerForm().owner_id.data)
    except cohort_svc.CohortError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Cohort “{cohort.name}” now belongs to {owner.name}.", "success")
    return redirect(url_for("instructor.roster", cohort_id=cohort_id))
