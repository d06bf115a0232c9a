"""Review pages: a learner appeals an attempt; instructors (and admins) work through a queue and decide.

A cohort's queue lives under its instructor pages (`managed_cohort`: another instructor's cohort is a 404);
the queue of learners in no cohort is the admins'. Views stay thin: web.services.reviews does the work.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from graders.text import REVIEW_REASONS
from web import types
from web.extensions import limiter
from web.forms import AppealForm, DecisionForm
from web.inputs import whole_number
from web.instructor import instructor_required, managed_cohort, role_required
from web.models import Cohort
from web.services import attempts as attempt_service
from web.services import cohorts as cohort_svc
from web.services import outcomes
from web.services import reviews as svc
from web.services.outcomes import effective_result

bp = Blueprint("reviews", __name__)
admin_required = role_required(lambda user: user.is_admin)
# Per account; APPEAL_RATE_LIMIT changes it (one appeal per attempt is kept anyway).
APPEAL_LIMIT = "10/hour"


def _appeal_limit() -> str:
    """Return the configured appeal limit (APPEAL_RATE_LIMIT, default 10 an hour)."""
    return current_app.config.get("APPEAL_RATE_LIMIT", APPEAL_LIMIT)


def _appeal_key() -> str:
    """Count appeals per account, so one learner cannot flood the queue from many addresses."""
    return f"appeal:{current_user.get_id()}"


@bp.app_template_global("review_open_count")
def review_open_count(cohort: Cohort | None) -> int:
    """The number of open review items of a cohort (None: the self-paced queue), for the cohort pages' nav."""
    return svc.open_count(cohort)


@bp.post("/attempts/<id:attempt_id>/appeal")
@login_required
@limiter.limit(_appeal_limit, key_func=_appeal_key)
def appeal(attempt_id: int) -> Any:
    """Appeal one of the learner's own attempts; anyone else's attempt is the same 404 as a missing one."""
    form = AppealForm()
    if attempt_service.own_attempt(current_user, attempt_id) is None:
        abort(404)
    error = None
    if form.validate_on_submit():
        try:
            svc.submit_appeal(current_user, attempt_id, form.reason.data)
        except svc.NotFound:
            abort(404)
        except svc.ReviewError as exc:
            error = str(exc)
        else:
            flash("Your appeal is sent. This page will show the answer once someone has looked at it.", "success")
            return redirect(url_for("exercises.feedback", attempt_id=attempt_id) + "#appeal-heading")
    # The typed reason comes back in the form with what is wrong, so nothing written is lost.
    return render_template("reviews/appeal_error.html", form=form, error=error, attempt_id=attempt_id), 400


def _filters() -> dict[str, Any]:
    """Read the queue's filters from the query string, dropping values that are none of the known ones."""
    course = current_app.extensions["course"]
    exercise = request.args.get("exercise", "")
    reason = request.args.get("reason", "")
    state = request.args.get("state", "open")
    return {
        "exercise_id": exercise if exercise in course.exercises else None,
        "reason": reason if reason == svc.APPEALED or reason in REVIEW_REASONS else None,
        "state": state if state in svc.STATES else "open",
    }


def _render_queue(cohort: Cohort | None, item_endpoint: str, **endpoint_args: Any) -> str:
    """Render one queue page (a cohort's, or the self-paced one with cohort None)."""
    filters = _filters()
    found = svc.queue(cohort, page=request.args.get("page", 1, type=whole_number), **filters)
    return render_template(
        "reviews/queue.html", cohort=cohort, found=found,
        filters=filters, reasons=REVIEW_REASONS, appealed=svc.APPEALED, item_endpoint=item_endpoint,
        endpoint_args=endpoint_args, course=current_app.extensions["course"], open_count=svc.open_count(cohort),
        here="review",
    )


def _review_item(cohort: Cohort | None, attempt_id: int, action_url: str, back_url: str) -> Any:
    """Show one attempt for review (GET) or store the reviewer's decision on it (POST)."""
    try:
        attempt = svc.scope_attempt(cohort, attempt_id)
    except svc.NotFound:
        abort(404)
    form = DecisionForm()
    error = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                decision = svc.read_decision(form.action.data, form.passed.data, form.score.data, form.comment.data)
            except svc.ReviewError as exc:
                error = str(exc)
            else:
                svc.decide(current_user, attempt, decision)
                flash("Grade kept." if decision.action == "keep" else "Grade overridden; the learner sees it now.",
                      "success")
                return redirect(back_url)
        status = 400
    course = current_app.extensions["course"]
    exercise = course.exercises.get(attempt.exercise_id)
    result = attempt_service.result_of(attempt)
    highlighted = types.get(exercise.type).highlight(attempt.answer, result) if exercise is not None else None
    override = outcomes.override_of(attempt)
    return render_template(
        "reviews/item.html", cohort=cohort, attempt=attempt, exercise=exercise, result=result,
        effective=effective_result(attempt, override), override=override,
        disagree=svc.rules_disagree(attempt, override), appeal=svc.appeal_of(attempt),
        learner=attempt.user.name, highlighted=highlighted, answer=cohort_svc.answer_text(attempt.answer),
        reasons=REVIEW_REASONS, decisions=svc.decisions_of(attempt), form=form, error=error,
        action_url=action_url, back_url=back_url, here="review",
    ), status


@bp.get("/instructor/cohorts/<id:cohort_id>/review")
@instructor_required
def cohort_queue(cohort_id: int) -> str:
    """The cohort's review queue: appealed attempts first, then those the rules were unsure of."""
    cohort = managed_cohort(cohort_id)
    return _render_queue(cohort, "reviews.cohort_item", cohort_id=cohort.id)


@bp.route("/instructor/cohorts/<id:cohort_id>/review/<id:attempt_id>", methods=["GET", "POST"])
@instructor_required
def cohort_item(cohort_id: int, attempt_id: int) -> Any:
    """Review one attempt of a cohort member: keep its grade or override it."""
    cohort = managed_cohort(cohort_id)
    return _review_item(cohort, attempt_id, url_for("reviews.cohort_item", cohort_id=cohort.id, attempt_id=attempt_id),
                        url_for("reviews.cohort_queue", cohort_id=cohort.id))


@bp.get("/admin/review")
@admin_required
def admin_overview() -> str:
    """Every cohort's open review count, and the queue of learners in no cohort."""
    cohorts = cohort_svc.visible_cohorts(current_user, include_archived=True)
    counts = {c.id: svc.open_count(c) for c in cohorts}
    return render_template("reviews/admin.html", cohorts=cohorts, counts=counts, self_paced=svc.open_count(None))


@bp.get("/admin/review/self-paced")
@admin_required
def self_paced_queue() -> str:
    """The review queue of learners in no cohort (their appeals go to the admins)."""
    return _render_queue(None, "reviews.self_paced_item")


@bp.route("/admin/review/self-paced/<id:attempt_id>", methods=["GET", "POST"])
@admin_required
def self_paced_item(attempt_id: int) -> Any:
    """Review one attempt of a learner in no cohort."""
    return _review_item(None, attempt_id, url_for("reviews.self_paced_item", attempt_id=attempt_id),
                        url_for("reviews.self_paced_queue"))
