"""Labelled grading cases: read a corpus file, grade it with the current rules, and measure agreement.

A case file is JSON Lines, one answer a line:

    {"id": "w03-rac-07", "answer": "...", "expected_pass": false, "category": "presumption",
     "deciding_check": "no-presumption", "writer": "w03"}

`category` and `deciding_check` are optional (a reviewed answer may lack them), `writer` too. Every problem
in a file is reported at once, with its line number, before anything is graded.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import graders
from course.errors import ContentError, ContentErrors
from course.model import Exercise
from graders.text import NOT_CREDITED

CATEGORIES = ("good", "presumption", "pressure", "tone", "defensive", "gaming", "negation", "missing", "meta",
              "offtopic", "length", "language")
# The categories where one false pass is one too many: the answer actively harms the candidate.
ZERO_TOLERANCE = ("presumption", "pressure", "tone", "defensive", "gaming", "negation")
REQUIRED_KEYS = {"id": str, "answer": str, "expected_pass": bool}
OPTIONAL_KEYS = {"category": str, "deciding_check": str, "writer": str, "source": str}


@dataclass(frozen=True)
class Case:
    """One labelled answer."""

    id: str
    answer: str
    expected_pass: bool
    category: str = ""
    deciding_check: str | None = None
    writer: str = ""
    line: int = 0


@dataclass(frozen=True)
class Outcome:
    """What the current rules made of one case."""

    case: Case
    passed: bool
    status: str
    failed: tuple[str, ...]  # checks that failed on their own merits (the guard alone when it zeroes the rest)
    review_reasons: tuple[str, ...] = ()  # why the grader suggests a person look at this grade (none: it is sure)

    @property
    def agrees(self) -> bool:
        """The rules and the label agree on pass or fail."""
        return self.passed == self.case.expected_pass

    @property
    def right_reason(self) -> bool:
        """A bad answer was failed by the check its label names."""
        return not self.passed and self.case.deciding_check in self.failed


def read_cases(path: Path, exercise: Exercise | None = None) -> list[Case]:
    """Read and validate a case file; raise ContentErrors naming every bad line and key."""
    errors: list[ContentError] = []
    cases: list[Case] = []
    check_ids = _check_ids(exercise) if exercise is not None else None
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentErrors([ContentError(str(path), None, "", f"cannot be read: {exc}")]) from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue

        def bad(key: str, message: str, n: int = n) -> None:
            """Record one problem on this line."""
            errors.append(ContentError(str(path), n, key, message))

        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            bad("", f"is not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(row, dict):
            bad("", f"expected a JSON object, got {type(row).__name__}")
            continue
        ok = True
        for key, kind in {**REQUIRED_KEYS, **OPTIONAL_KEYS}.items():
            if key in REQUIRED_KEYS and key not in row:
                bad(key, "is missing")
                ok = False
            elif key in row and row[key] is not None and not isinstance(row[key], kind):
                bad(key, f"expected {kind.__name__}, got {type(row[key]).__name__}")
                ok = False
        for key in sorted(set(row) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)):
            bad(key, f"unknown key (known: {', '.join([*REQUIRED_KEYS, *OPTIONAL_KEYS])})")
            ok = False
        if not ok:
            continue
        if row["id"] in seen:
            bad("id", f"{row['id']!r} is used already on line {seen[row['id']]}")
        seen[row["id"]] = n
        category = row.get("category") or ""
        if category and category not in CATEGORIES:
            bad("category", f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
        deciding = row.get("deciding_check")
        if deciding and check_ids is not None and deciding not in check_ids:
            bad("deciding_check", f"{deciding!r} is not a check of {exercise.id} "  # type: ignore[union-attr]
                                  f"(checks: {', '.join(sorted(check_ids))})")
        if deciding and row["expected_pass"]:
            bad("deciding_check", "a passing answer has no deciding check")
        cases.append(Case(row["id"], row["answer"], row["expected_pass"], category, deciding or None,
                          row.get("writer") or "", n))
    if errors:
        raise ContentErrors(errors)
    return cases


def _check_ids(exercise: Exercise) -> set[str]:
    """The check ids of a text exercise (from its answer key), or an empty set for other types."""
    key = graders.answer_key(exercise.type, exercise.spec)
    return {c["id"] for c in key.get("checks", ())}


def grade_case(exercise: Exercise, case: Case) -> Outcome:
    """Grade one case as the site would, and note which checks failed on their own merits."""
    result = graders.grade(exercise.type, exercise.spec, case.answer,
                           graders.Context(pass_threshold=exercise.pass_threshold))
    # A failed real-sentences guard marks the checks it zeroed "not credited"; they did not fail on their merits.
    failed = tuple(c.id for c in result.checks if not c.passed and not c.message.startswith(NOT_CREDITED))
    return Outcome(case, result.passed, result.status, failed, result.review_reasons)


@dataclass
class Tally:
    """Agreement figures over a set of outcomes."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def n(self) -> int:
        """How many cases."""
        return len(self.outcomes)

    @property
    def agreement(self) -> float:
        """Share of cases where the rules agree with the label."""
        return sum(o.agrees for o in self.outcomes) / self.n if self.n else 0.0

    def false_passes(self) -> Counter[str]:
        """Bad answers the rules passed, by category."""
        return Counter(o.case.category or "?" for o in self.outcomes if o.passed and not o.case.expected_pass)

    def false_fails(self) -> Counter[str]:
        """Good answers the rules failed, by the check that failed them."""
        return Counter(c for o in self.outcomes if not o.passed and o.case.expected_pass for c in o.failed or ("?",))

    def n_false_fails(self) -> int:
        """How many good answers the rules failed."""
        return sum(1 for o in self.outcomes if not o.passed and o.case.expected_pass)

    def bad(self) -> list[Outcome]:
        """Outcomes of the answers labelled to fail."""
        return [o for o in self.outcomes if not o.case.expected_pass]

    def right_reason_rate(self) -> float:
        """Share of labelled-bad answers (with a deciding check) that the rules failed by that check."""
        judged = [o for o in self.bad() if o.case.deciding_check]
        return sum(o.right_reason for o in judged) / len(judged) if judged else 0.0

    def flagged(self, passed: bool | None = None, agrees: bool | None = None) -> tuple[int, int]:
        """(flagged for review, all) among the outcomes the rules passed or failed, that agree with the label or not."""
        chosen = [o for o in self.outcomes if (passed is None or o.passed == passed)
                  and (agrees is None or o.agrees == agrees)]
        return sum(1 for o in chosen if o.review_reasons), len(chosen)

    def by_category(self) -> dict[str, tuple[int, int]]:
        """Per category: (cases, agreed)."""
        out: dict[str, list[int]] = {}
        for o in self.outcomes:
            row = out.setdefault(o.case.category or "?", [0, 0])
            row[0] += 1
            row[1] += o.agrees
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def grade_all(exercise: Exercise, cases: Iterable[Case]) -> Tally:
    """Grade every case of one exercise."""
    return Tally([grade_case(exercise, c) for c in cases])


def split_of(writers: Mapping[str, Mapping[str, str]], case: Case) -> str:
    """The split ('dev' or 'test') a case's writer belongs to; cases of unknown writers are 'dev'."""
    return str(writers.get(case.writer, {}).get("split", "dev"))


def disagreements(tally: Tally) -> Sequence[Outcome]:
    """The outcomes where rules and label disagree, or a bad answer failed for another reason."""
    return [o for o in tally.outcomes if not o.agrees or (not o.case.expected_pass and o.case.deciding_check
                                                          and not o.right_reason)]
