"""Doing exercises: the form for every type (works without JavaScript), submission, and feedback."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from limits import parse as parse_limit
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

import graders
from course import navigation
from course.model import Exercise
from web import types
from web.answers import OptionTokens, form_pairs
from web.core import CSRF_EXPIRED_MESSAGE, csrf_recovery
from web.extensions import limiter
from web.forms import ExerciseForm
from web.inputs import whole_number
from web.services import attempts as attempt_service
from web.services import results as result_words
from web.services import reviews, solutions
from web.services.drafts import save_draft, take_draft
from web.services.outcomes import effective_result
from web.services.progress import load_progress

bp = Blueprint("exercises", __name__)
DRAFT_SESSION_KEY = "draft_token"
DRAFT_LIMIT = parse_limit("30/hour")


def get_exercise(exercise_id: str) -> Exercise:
    """Return an exercise of the loaded course or abort with 404."""
    exercise = current_app.extensions["course"].exercises.get(exercise_id)
    if exercise is None:
        abort(404)
    return exercise


def learner_form(exercise: Exercise) -> tuple[dict[str, Any], dict[str, Any], OptionTokens]:
    """Return the learner's view (ids, for grading), the same view as the form shows it (tokens) and the tokens."""
    view = attempt_service.learner_view_for(current_user, exercise)
    tokens = OptionTokens.for_view(current_app.secret_key, current_user.id, exercise.id, view)
    return view, tokens.form_view(view), tokens


def render_exercise(exercise: Exercise, view: dict[str, Any], draft: types.Draft, *, key: str | None = None,
                    message: str | None = None, status: int = 200, focus: str | None = None) -> tuple[str, int]:
    """Render the exercise page with the learner's current answer and an optional message."""
    form = ExerciseForm()
    form.idempotency_key.data = key or attempt_service.new_idempotency_key()
    course = current_app.extensions["course"]
    progress = load_progress(course, current_user)
    html = render_template(
        "exercises/show.html",
        exercise=exercise,
        lesson=course.lessons[exercise.lesson],
        view=view,
        kind=types.get(exercise.type),
        draft=draft,
        form=form,
        message=message,
        focus=focus,
        record=progress.exercise(exercise.id),
        status=progress.exercise_status(exercise.id),
        previous_step=navigation.previous_item(course, navigation.EXERCISE, exercise.id),
        next_step=navigation.next_item(course, navigation.EXERCISE, exercise.id),
        outline=progress.outline(navigation.EXERCISE, exercise.id),
        max_chars=graders.MAX_ANSWER_CHARS,
    )
    return html, status


def _restore_draft(exercise: Exercise, view: dict[str, Any]) -> types.Draft | None:
    """Return the answer saved when the login had expired, if it was for this exercise."""
    fields = take_draft(session.get(DRAFT_SESSION_KEY), exercise.id)
    if fields is None:
        return None
    session.pop(DRAFT_SESSION_KEY, None)
    return types.get(exercise.type).draft_from_form(view, MultiDict([(str(k), str(v)) for k, v in fields]))


def _stash_and_login(exercise: Exercise) -> Response:
    """Keep a posted answer on the server when the login has expired, then send the learner to log in."""
    # Anyone can post here without an account, so stored drafts are capped per client address.
    if limiter.count(DRAFT_LIMIT, "saved-draft", request.remote_addr or "unknown"):
        fields, cut = form_pairs(request.form)
        session[DRAFT_SESSION_KEY] = save_draft(exercise.id, fields)
        flash("Your login had expired. Log in again and your answer will be waiting for you.", "info")
        if cut:
            flash(f"Your answer was longer than {graders.MAX_ANSWER_CHARS:,} characters, the most an answer can be, "
                  "so only its beginning was kept.", "error")
    else:
        flash("Your login had expired. Please log in again.", "info")
    return redirect(url_for("auth.login", next=url_for("exercises.show", exercise_id=exercise.id)))


@bp.get("/exercises/<exercise_id>")
def show(exercise_id: str) -> tuple[str, int] | Response:
    """Show an exercise form, shuffled by the learner's own secret seed; a saved draft is restored."""
    exercise = get_exercise(exercise_id)
    if not current_user.is_authenticated:
        flash("Log in to do the exercises; your progress is saved to your account.", "info")
        return redirect(url_for("auth.login", next=request.path))
    kind = types.get(exercise.type)
    _, shown, tokens = learner_form(exercise)
    draft = _restore_draft(exercise, shown)
    message = None
    if draft is not None:
        message = "Here is the answer you were working on. Check it and send it again."
    elif (retry := request.args.get("retry", type=whole_number)) is not None:
        # "Try again" starts from the learner's previous answer, so they only change what was wrong.
        previous = attempt_service.own_attempt(current_user, retry)
        if previous is not None and previous.exercise_id == exercise.id:
            draft = kind.draft_from_answer(shown, tokens.to_tokens(exercise.type, previous.answer))
    return render_exercise(exercise, shown, draft or kind.initial_draft(shown), message=message)


@bp.post("/exercises/<exercise_id>")
def submit(exercise_id: str) -> tuple[str, int] | Response:
    """Grade an answer on the server, store one attempt, and show its feedback (POST-redirect-GET)."""
    exercise = get_exercise(exercise_id)
    if not current_user.is_authenticated:
        return _stash_and_login(exercise)
    # Read straight from the post: building the form would also mint a CSRF token that the redirect never shows
    # (the global CSRF check has already validated the posted one).
    key = attempt_service.clean_idempotency_key(request.form.get("idempotency_key"))
    kind = types.get(exercise.type)
    view, shown, tokens = learner_form(exercise)
    draft = kind.draft_from_form(shown, request.form)
    move = request.form.get("move")
    if move and (moved := kind.move(draft, move)) is not None:
        # A no-JavaScript "Move up" / "Leave out" button: re-show the form with the new order, send nothing.
        rearranged, focus = moved
        return render_exercise(exercise, shown, rearranged, key=key, focus=focus)
    answer = tokens.to_ids(exercise.type, kind.answer_from_draft(draft))
    if answer is None:
        return render_exercise(exercise, shown, draft, key=key, message=kind.empty_message, status=422)
    try:
        outcome = attempt_service.submit(current_user, exercise, answer, key, view=view)
    except graders.GraderCrash:
        current_app.logger.exception("grader crashed on exercise %s", exercise.id)
        return render_exercise(
            exercise, shown, draft, key=key, status=500,
            message="Sorry, something went wrong while checking your answer, so it was not saved. "
                    "Your answer is still here; please try again in a moment.",
        )
    if outcome.attempt is None:
        return render_exercise(exercise, shown, draft, key=key, message=outcome.result.message, status=422)
    return redirect(url_for("exercises.feedback", attempt_id=outcome.attempt.id), code=303)


@csrf_recovery(bp, "submit")
def submit_with_expired_token() -> tuple[str, int] | Response:
    """Re-show the exercise with everything typed when the form's CSRF token expired (nothing is sent)."""
    exercise = get_exercise(request.view_args["exercise_id"])
    if not current_user.is_authenticated:
        return _stash_and_login(exercise)
    _, shown, _ = learner_form(exercise)
    draft = types.get(exercise.type).draft_from_form(shown, request.form)
    key = attempt_service.clean_idempotency_key(request.form.get("idempotency_key"))
    return render_exercise(exercise, shown, draft, key=key, message=CSRF_EXPIRED_MESSAGE, status=400)


@bp.get("/attempts/<id:attempt_id>")
@login_required
def feedback(attempt_id: int) -> str:
    """Show the result of one of the learner's own attempts; anyone else's looks like a missing page."""
    attempt = attempt_service.own_attempt(current_user, attempt_id)
    if attempt is None:
        abort(404)
    exercise = get_exercise(attempt.exercise_id)
    course = current_app.extensions["course"]
    view = attempt_service.learner_view_for(current_user, exercise)
    # As it counts: a reviewer's override replaces the grader's score and verdict (its checks stay the feedback).
    result = effective_result(attempt)
    kind = types.get(exercise.type)
    highlighted = kind.highlight(attempt.answer, result)
    lessons = {c.lesson: course.lessons[c.lesson] for c in result.checks if c.lesson in course.lessons}
    record = load_progress(course, current_user).exercise(exercise.id)
    return render_template(
        "exercises/feedback.html",
        attempt=attempt,
        exercise=exercise,
        lesson=course.lessons[exercise.lesson],
        result=result,
        highlighted=highlighted,
        answer_rows=kind.describe(view, attempt.answer) if highlighted is None else [],
        check_lessons=lessons,
        record=record,
        result_line=result_words.result_line(exercise.type, result, exercise.pass_threshold),
        regrade=result_words.regrade_notice(attempt),
        shown=solutions.feedback_for(exercise, view, attempt.answer, result, passed=record.passed,
                                     attempts=record.attempts),
        next_step=navigation.next_item(course, navigation.EXERCISE, exercise.id),
        # The appeal panel (exercises/_appeal.html).
        **reviews.learner_panel(current_user, attempt),
    )
