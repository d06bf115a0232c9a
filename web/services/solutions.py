"""When feedback shows an exercise's solution, and what it says about a wrong answer until then.

The solution is the explanation (which holds the text exercises' model answers) and the grader's verdict on every
option, pair and blank. Until the exercise's `show_solution` rule allows it, feedback names what is wrong in the
learner's own answer without marking the options they did not choose or saying what a right match would be.
Pure: the exercise, the learner's view and answer, the stored result and the learner's record go in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import graders
from course.model import Exercise

# Matching and categorize: the check prefix, the learner view's item list, the key's target list, what a target is.
ASSIGNMENTS = {
    "matching": ("pair", "left", "right", "match"),
    "categorize": ("item", "items", "groups", "group"),
}


@dataclass(frozen=True)
class Feedback:
    """What the feedback page shows of one attempt's checks, and whether the solution is shown."""

    solution_shown: bool
    checks: tuple[graders.Check, ...]
    summary: str = ""  # a count of what is right when the per-item verdicts are held back
    note: str = ""  # when the solution will be shown, if it is held back now


def solution_note(exercise: Exercise, attempts: int) -> str:
    """Say when the worked answer will be shown (for a learner who may not see it yet)."""
    rule = exercise.show_solution
    if rule.when == "never":
        return "This exercise does not show a worked answer: the feedback above says what to change."
    if rule.when == "after_pass":
        return "The worked answer and the explanation are shown once you pass."
    return (f"The worked answer and the explanation are shown once you pass or after {rule.attempts} attempts "
            f"(you have made {attempts}).")


def feedback_for(exercise: Exercise, view: dict[str, Any], answer: Any, result: graders.Result, *,
                 passed: bool, attempts: int) -> Feedback:
    """Return the checks to show for an attempt: all of them once the solution may be shown, else only what is wrong."""
    if exercise.show_solution.shown(passed, attempts):
        return Feedback(True, result.checks)
    checks, summary = result.checks, ""
    if exercise.type == "multiple_choice":
        checks, summary = _ticks(result.checks, answer)
    elif exercise.type in ASSIGNMENTS:
        checks, summary = _assignments(exercise, view, answer, result.checks)
    elif exercise.type == "cloze":
        checks, summary = _blanks(view, answer, result.checks)
    # single_choice (the one pick's own feedback), ordering (the first step out of place) and text (the rubric's
    # checks) already say only what is wrong with the answer given.
    return Feedback(False, tuple(checks), summary, solution_note(exercise, attempts))


def _ticks(checks: tuple[graders.Check, ...], answer: Any) -> tuple[list[graders.Check], str]:
    """Multiple choice: the wrong ticks with their feedback, and how many right options were left out."""
    ticked = {f"option:{a}" for a in answer} if isinstance(answer, list) else set()
    wrong = [c for c in checks if not c.passed and c.id in ticked]
    missed = sum(1 for c in checks if not c.passed and c.id not in ticked)
    parts = []
    if missed:
        parts.append(f"You left out {missed} option{'s' if missed != 1 else ''} that should be ticked.")
    if not wrong and not missed:
        parts.append("Every tick is right.")
    return wrong, " ".join(parts)


def _right_count(checks: tuple[graders.Check, ...], noun: str) -> str:
    """Say how many of the answer's parts are right, e.g. '3 of 5 matches are right.'."""
    right = sum(1 for c in checks if c.passed)
    plural = f"{noun}es" if noun.endswith("h") else f"{noun}s"
    return f"{right} of {len(checks)} {plural} {'is' if right == 1 else 'are'} right."


def _assignments(exercise: Exercise, view: dict[str, Any], answer: Any,
                 checks: tuple[graders.Check, ...]) -> tuple[list[graders.Check], str]:
    """Matching and categorize: each wrong item by its text, with the misconception its choice shows, if any."""
    prefix, items_key, targets_key, noun = ASSIGNMENTS[exercise.type]
    texts = {i["id"]: i["text"] for i in view.get(items_key, [])}
    key = graders.answer_key(exercise.type, exercise.spec)
    misconceptions = {t["id"]: t["misconception"] for t in key.get(targets_key, []) if t.get("misconception")}
    chosen = answer if isinstance(answer, dict) else {}
    shown = []
    for check in checks:
        if check.passed:
            continue
        item = check.id.removeprefix(f"{prefix}:")
        message = f"“{texts.get(item, item)}”: not the right {noun} yet."
        if chosen.get(item) in misconceptions:
            message = f"{message} {misconceptions[chosen[item]]}"
        shown.append(dataclasses.replace(check, message=message))
    return shown, _right_count(checks, noun)


def _blanks(view: dict[str, Any], answer: Any, checks: tuple[graders.Check, ...]) -> tuple[list[graders.Check], str]:
    """Cloze: each wrong blank with what was typed, without the blank's feedback (it gives the answer away)."""
    blanks = view.get("blanks", [])
    typed = answer if isinstance(answer, dict) else {}
    shown = []
    for check in checks:
        if check.passed:
            continue
        blank = check.id.removeprefix("blank:")
        n = blanks.index(blank) + 1 if blank in blanks else "?"
        value = str(typed.get(blank, "")).strip()
        message = (f"Blank {n} ({value!r}): not what we were looking for." if value else f"Blank {n} is empty.")
        shown.append(dataclasses.replace(check, message=message))
    return shown, _right_count(checks, "blank")
