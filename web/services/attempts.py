"""Submitting answers: server-side grading, one stored attempt per submission, and what feedback shows."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

import graders
from course.model import Exercise
from web.extensions import db
from web.models import Attempt, ExerciseState, User, utcnow
from web.services import lti, summaries

IDEMPOTENCY_KEY = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Submission:
    """What came of a submission: the stored attempt, or the invalid result that stored nothing."""

    result: graders.Result
    attempt: Attempt | None


def new_idempotency_key() -> str:
    """Return a fresh key for one rendering of an exercise form."""
    return uuid.uuid4().hex


def clean_idempotency_key(raw: str | None) -> str:
    """Return the posted key if it has our format, else a fresh one (the submission then is not deduplicated)."""
    raw = (raw or "").strip().lower()
    return raw if IDEMPOTENCY_KEY.match(raw) else new_idempotency_key()


def exercise_state(user: User, exercise_id: str) -> ExerciseState:
    """Return the learner's state for an exercise, creating it (with a secret shuffle seed) on first view."""
    state = db.session.get(ExerciseState, (user.id, exercise_id))
    if state is not None:
        return state
    db.begin_write()
    # Two tabs opening the exercise at once: whichever stored its seed first wins, and both use it.
    return db.add_or_existing(ExerciseState(user_id=user.id, exercise_id=exercise_id), (user.id, exercise_id))


# The seed alone, built once: every exercise page and submission reads it, and an ORM load cost more than the read.
_SEED = select(ExerciseState.shuffle_seed).where(ExerciseState.user_id == bindparam("uid"),
                                                 ExerciseState.exercise_id == bindparam("exercise"))


def learner_view_for(user: User, exercise: Exercise) -> dict[str, Any]:
    """Return the learner's view of an exercise (see learner_view), their state created on first view."""
    seed = db.session.scalar(_SEED, {"uid": user.id, "exercise": exercise.id})
    if seed is None:
        seed = exercise_state(user, exercise.id).shuffle_seed
    return learner_view(exercise, seed)


def learner_view(exercise: Exercise, shuffle_seed: int) -> dict[str, Any]:
    """Return what the learner may see of an exercise (no key), shuffled by their own seed."""
    return graders.present(exercise.type, exercise.spec, shuffle_seed)


def grading_context(exercise: Exercise, view: dict[str, Any]) -> graders.Context:
    """Return the grading context: the exercise's pass threshold and, for ordering, the order shown."""
    shown = view.get("shown_order")
    return graders.Context(shown_order=tuple(shown) if shown else None, pass_threshold=exercise.pass_threshold)


def submit(user: User, exercise: Exercise, raw_answer: Any, idempotency_key: str,
           view: dict[str, Any] | None = None) -> Submission:
    """Grade an answer on the server and store one attempt; an invalid answer stores nothing.

    A second submission with the same key (a double click, a resent form) returns the first attempt. `view` is
    the learner's `learner_view` when the caller already built it (the form did), to spare a second read.
    """
    if view is None:
        view = learner_view_for(user, exercise)
    result = graders.grade(exercise.type, exercise.spec, raw_answer, grading_context(exercise, view))
    if not result.counts_as_attempt:
        return Submission(result=result, attempt=None)
    values = {
        "user_id": user.id, "exercise_id": exercise.id, "answer": raw_answer, "score": result.score,
        "passed": result.passed, "status": result.status, "checks": [c.to_dict() for c in result.checks],
        "grader_version": result.grader_version, "message": result.message, "answer_text": result.answer_text,
        "review": result.review, "review_reasons": list(result.review_reasons),
        "idempotency_key": idempotency_key, "created_at": utcnow(),
    }
    session = db.begin_write()
    if session.get_bind().dialect.name == "postgresql":
        # Serialise one learner's submissions (two tabs at once): the attempt number and the summary below are
        # computed from the learner's committed attempts. SQLite's BEGIN IMMEDIATE already serialises writers.
        session.execute(_LOCK_LEARNER, {"uid": user.id})
    # No look-up first: the unique (user, key) constraint decides whether this is a resend, in the same statement.
    params = {**values, "number_user": user.id, "number_exercise": exercise.id}
    new_id = session.execute(_insert_statement(session.get_bind().dialect.name), params).scalar()
    if new_id is None:
        session.rollback()
        existing = _attempt_by_key(user.id, idempotency_key)
        return Submission(result=result_of(existing), attempt=existing)
    _pause_inside_transaction()
    summaries.record_attempt(session, user.id, exercise.id, {**values, "id": new_id})
    # The LMS gradebook's copy of the best score (read from the summary just refreshed) joins the same
    # transaction: the outbox, web/services/lti.py.
    queued = lti.queue_scores(user.id, exercise.id)
    session.commit()
    if queued:  # a learner from no LMS costs one query here, not two
        lti.after_attempt(user.id)
    return Submission(result=result, attempt=Attempt(id=new_id, **values))


_LOCK_LEARNER = select(User.id).where(User.id == bindparam("uid")).with_for_update()
_INSERTS: dict[str, Any] = {}


def _insert_statement(dialect: str) -> Any:
    """Return the attempt INSERT (built once per dialect): numbered in SQL, skipped on a known key, RETURNING id."""
    if dialect not in _INSERTS:
        table = Attempt.__table__
        number = (
            select(func.coalesce(func.max(table.c.attempt_number), 0) + 1)
            .where(table.c.user_id == bindparam("number_user"), table.c.exercise_id == bindparam("number_exercise"))
            .scalar_subquery()
        )
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(attempt_number=number)
        _INSERTS[dialect] = stmt.on_conflict_do_nothing(
            index_elements=[table.c.user_id, table.c.idempotency_key]).returning(table.c.id)
    return _INSERTS[dialect]


def _pause_inside_transaction() -> None:
    """Under TESTING only: hold the submit transaction open so tests/test_reliability.py can kill the worker in it."""
    seconds = current_app.config.get("TEST_SUBMIT_PAUSE_SECONDS") if current_app.testing else None
    if seconds:
        time.sleep(float(seconds))


def _attempt_by_key(user_id: int, key: str) -> Attempt | None:
    """Return the learner's attempt stored under an idempotency key, if any."""
    return db.session.scalar(select(Attempt).where(Attempt.user_id == user_id, Attempt.idempotency_key == key))


def own_attempt(user: User, attempt_id: int) -> Attempt | None:
    """Return an attempt only if it belongs to this learner (others' attempts look exactly like missing ones)."""
    return db.session.scalar(select(Attempt).where(Attempt.id == attempt_id, Attempt.user_id == user.id))


def result_of(attempt: Attempt) -> graders.Result:
    """Rebuild the grader's Result from a stored attempt."""
    return graders.Result.from_dict({
        "score": attempt.score,
        "passed": attempt.passed,
        "status": attempt.status,
        "checks": attempt.checks or [],
        "grader_version": attempt.grader_version,
        "message": attempt.message,
        "answer_text": attempt.answer_text,
        "review": attempt.review,
        "review_reasons": attempt.review_reasons or [],
    })
