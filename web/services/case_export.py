"""Reviewed answers as labelled cases: what `course cases export` writes, in the grading corpus format.

A reviewer's decision labels an answer: an override says what it should have got, a kept grade that the rules
were right. The rows carry no name, email or user id; a case id is a keyed hash of the attempt, so exporting
again gives the same ids (and a corpus that merges exports finds the duplicates) without revealing the attempt.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from graders.text import NOT_CREDITED
from web.extensions import db
from web.models import Attempt, AttemptOverride, CohortMembership, ReviewDecision


def case_id(secret: str, attempt_id: int) -> str:
    """A stable id for an attempt's case that does not reveal the attempt or its learner."""
    digest = hmac.new(secret.encode(), f"attempt:{attempt_id}".encode(), hashlib.sha256).hexdigest()
    return f"review-{digest[:12]}"


def reviewed_cases(exercise_id: str, secret: str, cohort_id: int | None = None,
                   since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Yield one corpus row per reviewed attempt of a text exercise (oldest decision first)."""
    decided = select(ReviewDecision.attempt_id).distinct()
    if since is not None:
        decided = decided.where(ReviewDecision.created_at >= since)
    query = (select(Attempt, AttemptOverride).outerjoin(AttemptOverride, AttemptOverride.attempt_id == Attempt.id)
             .where(Attempt.exercise_id == exercise_id, Attempt.id.in_(decided)).order_by(Attempt.id))
    if cohort_id is not None:
        query = query.where(Attempt.user_id.in_(
            select(CohortMembership.user_id).where(CohortMembership.cohort_id == cohort_id)))
    for attempt, override in db.session.execute(query):
        if not isinstance(attempt.answer, str):
            continue
        expected = bool(override.passed) if override is not None else bool(attempt.passed)
        row: dict[str, Any] = {"id": case_id(secret, attempt.id), "answer": attempt.answer,
                               "expected_pass": expected, "source": "review"}
        if not expected and override is None:
            # The reviewer kept a fail: the rules' first failed check (on its own merits) is what decided it.
            failed = [c["id"] for c in attempt.checks or [] if not c.get("passed")
                      and not str(c.get("message", "")).startswith(NOT_CREDITED)]
            if failed:
                row["deciding_check"] = failed[0]
        yield row
