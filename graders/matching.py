"""`matching` grader: match each left-hand item to one right-hand option.

Spec shape:

    left:
      - {id: ask-team, text: "What does a typical week look like?", match: day-to-day,
         feedback: "Shown when this pair is wrong: why it belongs with day-to-day"}
    right:                    # may hold more options than `left` has items: the spares are distractors
      - {id: day-to-day, text: "Picture the daily work"}
    shuffle: true             # optional

Answer: `{left_id: right_id}` covering every left item. Score = share of correct pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graders.base import Check, Context, Grader, Result, SpecIssue, register
from graders.spec import SpecReader, raise_if
from graders.structured import finish, parse_mapping, read_entries, shuffled


@dataclass(frozen=True)
class Pair:
    """One left item and the right option it belongs with."""

    id: str
    text: str
    match: str
    feedback: str


@dataclass(frozen=True)
class Target:
    """One right-hand option."""

    id: str
    text: str


@dataclass(frozen=True)
class MatchingSpec:
    """A compiled matching spec."""

    left: tuple[Pair, ...]
    right: tuple[Target, ...]
    shuffle: bool


def _read_left(r: SpecReader) -> dict[str, Any]:
    """Read the matching-specific keys of a left item."""
    return {"match": r.req("match", str, ""), "feedback": r.opt("feedback", str, "")}


def _read_right(r: SpecReader) -> dict[str, Any]:
    """Right options carry only id and text."""
    return {}


@register
class MatchingGrader(Grader):
    """Left items matched to right options, one check per pair."""

    type_name = "matching"
    version = "1"

    def compile(self, spec: Mapping[str, Any]) -> MatchingSpec:
        """Validate both columns and that every `match` names a right option."""
        issues: list[SpecIssue] = []
        r = SpecReader(spec, "spec", issues)
        left = read_entries(r, "left", issues, _read_left, minimum=2)
        right = read_entries(r, "right", issues, _read_right, minimum=2)
        shuffle = r.opt("shuffle", bool, True)
        r.done()
        right_ids = {e["id"] for e in right}
        for e in left:
            if e["match"] and right and e["match"] not in right_ids:
                issues.append(SpecIssue(f"{e['path']}.match", f"unknown right option {e['match']!r}"))
        raise_if(issues)
        return MatchingSpec(
            left=tuple(Pair(e["id"], e["text"], e["match"], e["feedback"]) for e in left),
            right=tuple(Target(e["id"], e["text"]) for e in right),
            shuffle=shuffle,
        )

    def parse(self, compiled: MatchingSpec, raw: Any) -> dict[str, str]:
        """Accept `{left_id: right_id}` (or its JSON string) covering every left item."""
        return parse_mapping(raw, [p.id for p in compiled.left], [t.id for t in compiled.right],
                             "item", "match")

    def grade(self, compiled: MatchingSpec, answer: dict[str, str], ctx: Context) -> Result:
        """One check per left item; score = share of correct pairs."""
        texts = {t.id: t.text for t in compiled.right}
        checks = []
        for p in compiled.left:
            got = answer[p.id]
            ok = got == p.match
            if ok:
                message = f"{p.text} -> {texts[got]}: right."
            else:
                message = f"{p.text} -> {texts[got]}: not quite. {p.feedback}".strip()
            checks.append(Check(id=f"pair:{p.id}", passed=ok, weight=1.0, message=message,
                                earned=1.0 if ok else 0.0))
        score = sum(1 for c in checks if c.passed) / len(checks)
        return finish(score, checks, ctx, self.version)

    def present(self, compiled: MatchingSpec, seed: int) -> dict[str, Any]:
        """Both columns, each shuffled by seed unless the spec says not to; no matches."""
        left = [{"id": p.id, "text": p.text} for p in compiled.left]
        right = [{"id": t.id, "text": t.text} for t in compiled.right]
        if compiled.shuffle:
            left = shuffled(left, seed)
            right = shuffled(right, seed + 1)
        return {"type": self.type_name, "left": left, "right": right}

    def answer_key(self, compiled: MatchingSpec) -> dict[str, Any]:
        """Every pair with its feedback, and the spare right options."""
        used = {p.match for p in compiled.left}
        return {
            "pairs": {p.id: p.match for p in compiled.left},
            "left": [{"id": p.id, "text": p.text, "match": p.match, "feedback": p.feedback} for p in compiled.left],
            "right": [{"id": t.id, "text": t.text} for t in compiled.right],
            "distractors": [t.id for t in compiled.right if t.id not in used],
        }
