"""Regrade stored attempts of one exercise with its current rules, keeping every replaced result for audit.

Batched (keyset pages of attempts, the session emptied between pages so memory stays flat), transactional
(one commit at the end: a grader crash half-way leaves every attempt as it was) and idempotent (an attempt
whose result would not change is not touched, so a second run changes nothing and writes no audit rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

import graders
from web.extensions import db
from web.models import Attempt, AttemptGrade, ExerciseState
from web.services.attempts import grading_context, learner_view

BATCH_SIZE = 500
SCORE_EPSILON = 1e-9


class UnknownExercise(LookupError):
    """No exercise with this id in the course."""

    def __init__(self, exercise_id: str, known: list[str]):
        """Name the bad id and list the known ones."""
        super().__init__(f"unknown exercise {exercise_id!r} (known exercises: {', '.join(known)})")


@dataclass
class RegradeReport:
    """What a regrade did (or, with dry_run, would do)."""

    exercise_id: str
    grader_version: str
    dry_run: bool = False
    regraded: int = 0
    changed: int = 0
    scores_changed: int = 0
    passed_to_failed: int = 0
    failed_to_passed: int = 0

    def summary(self) -> str:
        """Return the one-paragraph report the CLI prints."""
        verb = "would change" if self.dry_run else "changed"
        return (f"{self.exercise_id}: regraded {self.regraded} attempts with {self.grader_version}; "
                f"{verb} {self.changed} results ({self.scores_changed} scores changed, "
                f"{self.passed_to_failed} passed->failed, {self.failed_to_passed} failed->passed)"
                + (" [dry run: nothing written]" if self.dry_run else ""))


def _checks(result: graders.Result) -> list[dict[str, Any]]:
    """Return a result's checks in the JSON shape attempts store."""
    return [c.to_dict() for c in result.checks]


def differs(attempt: Attempt, result: graders.Result) -> bool:
    """Return True when the new result differs from the stored one in anything a learner or instructor sees."""
    return (
        abs(float(attempt.score) - result.score) > SCORE_EPSILON
        or bool(attempt.passed) != result.passed
        or attempt.status != result.status
        or (attempt.checks or []) != _checks(result)
        or attempt.grader_version != result.grader_version
    )


def default_context(exercise: Any, attempt: Attempt) -> graders.Context:
    """Rebuild the context the attempt was graded in, exactly as the site builds it on submit."""
    state = db.session.get(ExerciseState, (attempt.user_id, exercise.id))
    if state is None:
        return graders.Context(pass_threshold=exercise.pass_threshold)
    # The shuffle is seeded per learner, so replaying the learner's view gives back the order they saw.
    return grading_context(exercise, learner_view(exercise, state))


def regrade_exercise(
    course: Any,
    exercise_id: str,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    reason: str = "regrade",
    context_for: Callable[[Any, Attempt], graders.Context] = default_context,
) -> RegradeReport:
    """Regrade every stored attempt of one exercise with the course's current rules; see the module docstring."""
    exercise = course.exercises.get(exercise_id)
    if exercise is None:
        raise UnknownExercise(exercise_id, sorted(course.exercises))
    report = RegradeReport(exercise_id, graders.version(exercise.type), dry_run=dry_run)
    session = db.session
    last_id = 0
    try:
        while True:
            batch = list(session.scalars(
                select(Attempt).where(Attempt.exercise_id == exercise_id, Attempt.id > last_id)
                .order_by(Attempt.id).limit(batch_size)
            ))
            if not batch:
                break
            for attempt in batch:
                report.regraded += 1
                result = graders.grade(exercise.type, exercise.spec, attempt.answer, context_for(exercise, attempt))
                if not differs(attempt, result):
                    continue
                report.changed += 1
                report.scores_changed += abs(float(attempt.score) - result.score) > SCORE_EPSILON
                report.passed_to_failed += bool(attempt.passed) and not result.passed
                report.failed_to_passed += (not attempt.passed) and result.passed
                if dry_run:
                    continue
                session.add(AttemptGrade(
                    attempt_id=attempt.id, score=attempt.score, passed=attempt.passed, status=attempt.status,
                    checks=attempt.checks, grader_version=attempt.grader_version, reason=reason,
                ))
                attempt.score = result.score
                attempt.passed = result.passed
                attempt.status = result.status
                attempt.checks = _checks(result)
                attempt.grader_version = result.grader_version
                attempt.message = result.message
                attempt.answer_text = result.answer_text
            last_id = batch[-1].id
            # Send this page's changes to the database, then forget the objects so memory stays flat.
            session.flush()
            session.expunge_all()
    except BaseException:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return report
