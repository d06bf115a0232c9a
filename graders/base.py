"""Shared types for every grader: the frozen result, the errors, and the grader base class.

Graders are pure: an exercise spec and an answer go in, a frozen Result comes out.
Nothing here (or in any grader module) may import Flask, the database or `web`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Learner answers above this size are refused before any parsing or matching happens.
MAX_ANSWER_CHARS = 5000

STATUSES = ("correct", "partial", "incorrect", "invalid")
# Whether a person should look at a grade: the grader's own doubt, for instructors (learners never see it).
REVIEWS = ("none", "suggested")


@dataclass(frozen=True)
class Check:
    """One rubric check: whether it passed, what it weighs, and why."""

    id: str
    passed: bool
    weight: float
    message: str
    # Character offsets [start, end) into the *normalised* answer text that triggered the check.
    spans: tuple[tuple[int, int], ...] = ()
    # A failed required check fails the whole exercise, whatever the score.
    required: bool = False
    # Fraction of this check's weight earned (lets ordering give partial credit inside one check).
    earned: float | None = None
    # Lesson that teaches this check, so the site can send a learner back to it.
    lesson: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        # A shallow copy of every field: dataclasses.asdict deep-copies recursively, which cost more than
        # grading the answer did when a submission stored its checks.
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["spans"] = [list(s) for s in self.spans]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Check:
        """Rebuild a check stored with to_dict()."""
        data = dict(d)
        data["spans"] = tuple(tuple(s) for s in data.get("spans", ()))
        return cls(**data)


@dataclass(frozen=True)
class Result:
    """The outcome of grading one answer."""

    score: float
    passed: bool
    status: str
    checks: tuple[Check, ...]
    grader_version: str
    # One-line summary for the learner; for `invalid` it says what is wrong with the answer.
    message: str = ""
    # The answer text the spans point into (normalised), so feedback can highlight words.
    answer_text: str = ""
    # "suggested" when the rules are unsure of this grade, with the reasons why (graders/text/grader.py REVIEW_REASONS).
    review: str = "none"
    review_reasons: tuple[str, ...] = ()

    @property
    def counts_as_attempt(self) -> bool:
        """An invalid answer never costs the learner an attempt."""
        return self.status != "invalid"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "score": self.score,
            "passed": self.passed,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "grader_version": self.grader_version,
            "message": self.message,
            "answer_text": self.answer_text,
            "review": self.review,
            "review_reasons": list(self.review_reasons),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        """Rebuild a result stored with to_dict()."""
        return cls(
            score=float(d["score"]),
            passed=bool(d["passed"]),
            status=str(d["status"]),
            checks=tuple(Check.from_dict(c) for c in d.get("checks", ())),
            grader_version=str(d.get("grader_version", "")),
            message=str(d.get("message", "")),
            answer_text=str(d.get("answer_text", "")),
            review=str(d.get("review") or "none"),
            review_reasons=tuple(str(r) for r in d.get("review_reasons") or ()),
        )


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in an exercise's grading spec, located by key path."""

    key: str
    message: str

    def __str__(self) -> str:
        """Render as 'key: message'."""
        return f"{self.key}: {self.message}" if self.key else self.message


class SpecError(Exception):
    """A grading spec is malformed; carries every issue found, not just the first."""

    def __init__(self, issues: list[SpecIssue]):
        """Keep all issues so the loader can report them together."""
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


class InvalidAnswer(Exception):
    """The answer could not be parsed; grading it would be meaningless and costs no attempt."""


class UnknownGraderType(KeyError):
    """No grader is registered under this type name."""

    def __init__(self, type_name: str, known: list[str]):
        """Name the bad type and list the known ones."""
        self.type_name = type_name
        self.known = known
        super().__init__(f"unknown exercise type {type_name!r} (known types: {', '.join(known)})")

    def __str__(self) -> str:
        """Show the message without KeyError's extra quoting."""
        return self.args[0]


def normalise_text(text: str) -> str:
    """Unicode-normalise learner text so equal-looking answers grade the same."""
    text = unicodedata.normalize("NFKC", text)
    # Curly quotes and dashes become ASCII so phrase rules written with ' match either form.
    return (
        text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
        .replace("\u2013", "-").replace("\u2014", "-").replace("\r\n", "\n").replace("\r", "\n")
    )


@dataclass(frozen=True)
class Context:
    """Per-attempt facts the grader may need beyond the spec and the answer."""

    # The order the learner was shown (ordering exercises): answering it unchanged earns nothing.
    shown_order: tuple[str, ...] | None = None
    pass_threshold: float = 0.8
    # Seconds a text answer may take to grade. Every rule runs in linear time, so a real answer takes
    # milliseconds; past this the answer is refused as invalid (kept in the form, no attempt used), never a 500.
    time_budget: float = 2.0


class Grader:
    """Base class: subclasses compile a spec, parse an answer, and grade it."""

    type_name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    # The graders.schema.SpecModel of the raw `spec:` mapping; course/schemas.py publishes it as JSON Schema.
    spec_model: ClassVar[Any] = None

    def compile(self, spec: Mapping[str, Any]) -> Any:
        """Validate a raw spec mapping and return an immutable compiled spec; raise SpecError."""
        raise NotImplementedError

    def parse(self, compiled: Any, raw: Any) -> Any:
        """Turn a raw answer (str from a form or CLI, or JSON value) into a typed answer; raise InvalidAnswer."""
        raise NotImplementedError

    def grade(self, compiled: Any, answer: Any, ctx: Context) -> Result:
        """Grade a parsed answer; must be deterministic and side-effect free."""
        raise NotImplementedError

    def present(self, compiled: Any, seed: int) -> dict[str, Any]:
        """Return what the learner may see before answering (never the key), shuffled by `seed`."""
        raise NotImplementedError

    def answer_key(self, compiled: Any) -> dict[str, Any]:
        """Return the answer key for the instructor preview (`course show`)."""
        raise NotImplementedError

    def example_issues(self, compiled: Any) -> list[SpecIssue]:
        """Examples a spec carries for its own rules that do not behave as declared (`course check` runs them)."""
        return []


@dataclass
class Registry:
    """Grader types registered by name, CTFd-style, but holding pure graders."""

    graders: dict[str, Grader] = field(default_factory=dict)

    def register(self, grader_cls: type[Grader]) -> type[Grader]:
        """Class decorator: register one grader type under its `type_name`."""
        name = grader_cls.type_name
        if not name:
            raise ValueError(f"{grader_cls.__name__} has no type_name")
        if name in self.graders:
            raise ValueError(f"grader type {name!r} registered twice")
        self.graders[name] = grader_cls()
        return grader_cls

    def get(self, name: str) -> Grader:
        """Return the grader for a type name or raise UnknownGraderType."""
        try:
            return self.graders[name]
        except KeyError:
            raise UnknownGraderType(name, sorted(self.graders)) from None

    def names(self) -> list[str]:
        """Return the registered type names, sorted."""
        return sorted(self.graders)


REGISTRY = Registry()
register = REGISTRY.register
