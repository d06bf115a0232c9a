"""What a learner's attempt page says about a result: the one-line verdict, and whether a regrade changed it.

Pure functions over a graders.Result or an Attempt with its audit rows (attempt_grades), so the wording is tested
without a page and every template that shows a result says the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import graders
from web.services.attempts import result_of

# Why a result below the line can look like a pass: what the failed required check means, per exercise type.
REQUIRED_REASONS = {
    "matching": "a misconception was chosen",
    "categorize": "a misconception was chosen",
    "text": "a required point is not met",
}


def percent(score: float) -> int:
    """A score (0..1) as the whole percentage every page shows."""
    return round(score * 100)


def required_reason(exercise_type: str, result: graders.Result) -> str:
    """Why a failed required check stops the pass, in words for this type; empty when none failed."""
    failed = [c for c in result.checks if c.required and not c.passed]
    if not failed:
        return ""
    if exercise_type == "ordering":
        if any(c.id == "unchanged" for c in failed):
            return "the steps were sent in the order they were shown"
        return "a step that does not belong was placed"
    return REQUIRED_REASONS.get(exercise_type, "a required point is not met")


def result_line(exercise_type: str, result: graders.Result, pass_threshold: float = 0.8) -> str:
    """'80% · Not passed yet: a misconception was chosen' - the verdict, with the reason when the score looks enough.

    For text answers most checks are required, so the reason is added only where the percentage alone would pass;
    for the other types a failed required check is always a misconception or a step that does not belong.
    """
    line = f"{percent(result.score)}% · {'Passed' if result.passed else 'Not passed yet'}"
    if result.passed:
        return line
    reason = required_reason(exercise_type, result)
    if reason and (exercise_type != "text" or result.score >= pass_threshold):
        line += f": {reason}"
    return line


def attempt_line(exercise: Any, attempt: Any) -> str:
    """The result line of a stored attempt (its checks in their JSON shape), for pages that list attempts."""
    result = result_of(attempt)
    return result_line(exercise.type if exercise else "", result, exercise.pass_threshold if exercise else 0.8)


@dataclass(frozen=True)
class RegradeNotice:
    """A regrade changed this attempt's result: what it was when first graded, what it is now, and when."""

    old_score: float
    old_passed: bool
    new_score: float
    new_passed: bool
    regraded_at: datetime
    times: int

    @property
    def old_percent(self) -> int:
        """The first result as a whole percentage."""
        return percent(self.old_score)

    @property
    def new_percent(self) -> int:
        """The current result as a whole percentage."""
        return percent(self.new_score)


def regrade_notice(attempt: Any) -> RegradeNotice | None:
    """Return the notice for an attempt whose result a regrade changed (score or pass), else None.

    `attempt.grades` holds every replaced result, oldest first; the first is the result the learner first saw.
    A regrade that changed only the grader version or the wording of feedback changes no result, so says nothing.
    """
    grades = list(attempt.grades or ())
    if not grades:
        return None
    first = grades[0]
    score_changed = round(float(first.score) * 100) != round(float(attempt.score) * 100)
    if not score_changed and bool(first.passed) == bool(attempt.passed):
        return None
    return RegradeNotice(float(first.score), bool(first.passed), float(attempt.score), bool(attempt.passed),
                         grades[-1].created_at, len(grades))
