"""The effective outcome of an attempt: a reviewer's override when it has one, else the grader's result.

Everything that counts a grade (progress and the certificate, the gradebook, the roster, item analysis, the
instructor's drill-down) reads it through here, as SQL expressions for queries or `effective_result` for one
attempt, so an override counts the same everywhere and the grader's own result stays as it was stored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Boolean, Float, func, select

import graders
from graders.structured import status_for
from web.extensions import db
from web.models import Attempt, AttemptOverride
from web.services.attempts import result_of


def _override_of(column: Any) -> Any:
    """SQL: one column of the current attempt's override (NULL when it has none), correlated to Attempt."""
    return select(column).where(AttemptOverride.attempt_id == Attempt.id).correlate(Attempt).scalar_subquery()


def effective_score() -> Any:
    """SQL: the score an attempt counts with (the override's, else the grader's)."""
    return func.coalesce(_override_of(AttemptOverride.score), Attempt.score, type_=Float)


def effective_passed() -> Any:
    """SQL: whether an attempt counts as passed (the override's verdict, else the grader's)."""
    return func.coalesce(_override_of(AttemptOverride.passed), Attempt.passed, type_=Boolean)


def override_of(attempt: Attempt) -> AttemptOverride | None:
    """Return the reviewer's override of an attempt, if any."""
    return db.session.get(AttemptOverride, attempt.id)


def overrides_for(attempt_ids: list[int]) -> dict[int, AttemptOverride]:
    """Return {attempt id: override} for the attempts that have one, in one query."""
    if not attempt_ids:
        return {}
    rows = db.session.scalars(select(AttemptOverride).where(AttemptOverride.attempt_id.in_(attempt_ids)))
    return {o.attempt_id: o for o in rows}


def effective_result(attempt: Attempt, override: AttemptOverride | None = None) -> graders.Result:
    """Return the attempt's result as it counts: the grader's checks and feedback, with an override's grade.

    `override` spares the look-up when the caller has it (pass the attempt's own override, or omit it).
    """
    result = result_of(attempt)
    override = override if override is not None else override_of(attempt)
    if override is None:
        return result
    return replace(result, score=float(override.score), passed=bool(override.passed),
                   status=status_for(float(override.score)))
