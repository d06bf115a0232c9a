"""Helpers shared by the structured grader types (choice, matching, categorize, cloze, ordering).

They cover the parts every structured type does the same way: reading a list of `{id, text, ...}`
entries from a spec, decoding the CLI's JSON string forms, turning a score into a Result, and the
seeded shuffle used by `present`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from graders.base import Check, Context, Grader, InvalidAnswer, Result, SpecIssue
from graders.schema import MAX_ID_CHARS, SpecId, SpecModel, Text, compile_model, listed, unique_ids

# Scores are rounded so that 0.8 stays 0.8 after (right - wrong) / n arithmetic.
SCORE_DIGITS = 6


class EntryModel(SpecModel):
    """One `{id, text}` entry of a spec's list (options, items, groups, steps, ...)."""

    id: SpecId
    text: Text


def entry_ids(path: str, entries: Sequence[EntryModel | None] | None) -> list[tuple[str, str]]:
    """The (key path, id) pairs of a list's readable ids, for `unique_ids`."""
    return [(f"{path}[{i}].id", e.id) for i, e in listed(entries) if e.id]


def decode_json(raw: Any) -> Any:
    """Decode a JSON string answer (the CLI's form); non-strings pass through unchanged."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text[:1] in ("[", "{", '"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidAnswer(f"The answer looks like JSON but does not parse: {exc.msg} "
                                f"(line {exc.lineno}, column {exc.colno}).") from None
    return raw


def check_id(value: Any, where: str) -> str:
    """Return a stripped id string or raise InvalidAnswer naming where the bad value was."""
    if not isinstance(value, str):
        raise InvalidAnswer(f"{where} must be an id (text), got {_kind(value)}.")
    ident = value.strip()
    if not ident:
        raise InvalidAnswer(f"{where} is empty.")
    if len(ident) > MAX_ID_CHARS:
        raise InvalidAnswer(f"{where} is not a known id (too long).")
    return ident


def parse_mapping(raw: Any, keys: Mapping[str, str], values: Sequence[str], what_key: str, what_value: str,
                  require_all: bool = True) -> dict[str, str]:
    """Parse an `{key_id: value_id}` answer, refusing unknown keys or values and (optionally) missing keys.

    `keys` maps each known key id to the text the learner sees, so a missing one can be named in their words.
    """
    data = decode_json(raw)
    if not isinstance(data, Mapping):
        raise InvalidAnswer(f"The answer must map each {what_key} to a {what_value}, got {_kind(data)}.")
    known_values = set(values)
    out: dict[str, str] = {}
    for k, v in data.items():
        key = check_id(k, f"A {what_key} id")
        if key not in keys:
            raise InvalidAnswer(f"Unknown {what_key} {_show(key)}.")
        if key in out:
            raise InvalidAnswer(f"The {what_key} {_show(key)} appears twice.")
        value = check_id(v, f"The {what_value} for {what_key} {_show(key)}")
        if value not in known_values:
            raise InvalidAnswer(f"Unknown {what_value} {_show(value)} for {what_key} {_show(key)}.")
        out[key] = value
    if not out:
        raise InvalidAnswer("The answer is empty.")
    if require_all:
        missing = [f"{_show(text)} ({k})" for k, text in keys.items() if k not in out]
        if missing:
            raise InvalidAnswer(f"Every {what_key} needs a {what_value}; still to do: {', '.join(missing)}.")
    return out


def status_for(score: float) -> str:
    """Map a score to correct / partial / incorrect."""
    if score >= 1.0:
        return "correct"
    if score <= 0.0:
        return "incorrect"
    return "partial"


def finish(score: float, checks: Sequence[Check], ctx: Context, version: str, message: str = "") -> Result:
    """Build the Result: clamp and round the score, apply the pass threshold and required checks."""
    score = round(min(1.0, max(0.0, score)), SCORE_DIGITS)
    required_failed = any(c.required and not c.passed for c in checks)
    passed = score >= ctx.pass_threshold and not required_failed
    if not message:
        message = summary(score, passed, required_failed, checks)
    return Result(score=score, passed=passed, status=status_for(score), checks=tuple(checks),
                  grader_version=version, message=message)


def summary(score: float, passed: bool, required_failed: bool, checks: Sequence[Check] = ()) -> str:
    """One-line learner summary of a result; when the score is the share of items right it gives the count."""
    pct = round(score * 100)
    scored = [c for c in checks if c.weight > 0]
    right = sum(c.passed for c in scored)
    # "5 of 7 right" tells a learner how far off they are. Only where it is what the score measures: not for a
    # single check (ordering, single choice) nor where wrong ticks cancel right ones (multiple choice).
    counts = len(scored) > 1 and abs(right / len(scored) - score) < 0.005
    tally = f"{right} of {len(scored)} right, " if counts else ""
    if score >= 1.0 and passed:
        return "All correct."
    if passed:
        return f"Passed: {tally}{pct}%. Check the notes below for what to tighten."
    if required_failed:
        return f"Not passed yet ({tally}{pct}%): a required point is not met. See the notes below."
    return f"Not passed yet: {tally}{pct}%. The notes below say what to change."


def shuffled(items: Sequence[Any], seed: int) -> list[Any]:
    """Return a copy of `items` in a deterministic order for this seed (same seed, same order)."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def _kind(value: Any) -> str:
    """Name a JSON value's kind for an error message."""
    names = {str: "text", int: "a number", float: "a number", bool: "true/false", list: "a list",
             dict: "a mapping", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _show(ident: str) -> str:
    """Quote an id for a message, shortened so a hostile answer cannot flood the page."""
    return repr(ident if len(ident) <= 40 else ident[:37] + "...")


# ---- assignment graders: matching and categorize -----------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One `{id, text}` entry; for the items being assigned, also the target they belong to and feedback."""

    id: str
    text: str
    target: str = ""
    feedback: str = ""
    # Targets only: why choosing this target is a misconception. Any item assigned to it fails the exercise.
    misconception: str = ""


@dataclass(frozen=True)
class AssignmentSpec:
    """A compiled matching or categorize spec: items, the targets they go to, and whether to shuffle."""

    items: tuple[Entry, ...]
    targets: tuple[Entry, ...]
    shuffle: bool


def _target_key(target: Entry) -> dict[str, str]:
    """A target as the answer key shows it: id and text, and its misconception when it has one."""
    shown = {"id": target.id, "text": target.text}
    if target.misconception:
        shown["misconception"] = target.misconception
    return shown


class AssignedModel(EntryModel):
    """An item being assigned: matching's `left` entries carry `match`, categorize's `items` carry `group`."""

    feedback: str = ""


class TargetModel(EntryModel):
    """A target: a right-hand option or a group, optionally a misconception that fails the exercise."""

    misconception: str = ""


class AssignmentModel(SpecModel):
    """The spec of an assignment type; subclasses name the two lists and the link (see AssignmentGrader)."""

    items_key: ClassVar[str]
    targets_key: ClassVar[str]
    link_key: ClassVar[str]
    target_label: ClassVar[str]  # what an author calls a target in spec errors ("right option", "group")
    shuffle: bool = True

    def problems(self, path: str) -> list[SpecIssue]:
        """Ids unique in each list, and every item's link names a target that is not a misconception."""
        issues: list[SpecIssue] = []
        items, targets = getattr(self, self.items_key), getattr(self, self.targets_key)
        for key, entries in ((self.items_key, items), (self.targets_key, targets)):
            unique_ids(entry_ids(f"{path}.{key}", entries), issues)
        listed_targets = [t for _, t in listed(targets)]
        target_ids = {t.id for t in listed_targets}
        misconceptions = {t.id for t in listed_targets if t.misconception}
        for i, item in listed(items):
            link = getattr(item, self.link_key)
            where = f"{path}.{self.items_key}[{i}].{self.link_key}"
            if link and listed_targets and link not in target_ids:
                issues.append(SpecIssue(where, f"unknown {self.target_label} {link!r}"))
            elif link in misconceptions:
                issues.append(SpecIssue(where, f"{link!r} is marked as a misconception, so it cannot be the "
                                               f"right {self.target_label}"))
        return issues


def entries_field() -> Any:
    """A required list of at least two entries (two options or groups are the least that make a choice)."""
    return Field(min_length=2)


class AssignmentGrader(Grader):
    """Shared logic of graders where each item is assigned one target: score = share assigned correctly.

    Subclasses name their spec model (whose ClassVars name the keys), the words used in messages, and how
    one item's verdict reads (`describe`).
    """

    spec_model: ClassVar[type[AssignmentModel]]
    item_word: ClassVar[str] = "item"
    target_word: ClassVar[str]  # what the learner calls a target in messages ("match", "group")
    check_prefix: ClassVar[str]
    shuffle_targets: ClassVar[bool]
    key_name: ClassVar[str]  # name of the {item: target} mapping in the answer key

    @property
    def items_key(self) -> str:
        """The spec key of the items being assigned."""
        return self.spec_model.items_key

    @property
    def targets_key(self) -> str:
        """The spec key of the targets."""
        return self.spec_model.targets_key

    @property
    def link_key(self) -> str:
        """The item key naming its target."""
        return self.spec_model.link_key

    def compile(self, spec: Mapping[str, Any]) -> AssignmentSpec:
        """Validate both lists and that every item's link names a known target."""
        m = compile_model(self.spec_model, spec)
        return AssignmentSpec(
            items=tuple(Entry(e.id, e.text, getattr(e, self.link_key), e.feedback)
                        for e in getattr(m, self.items_key)),
            targets=tuple(Entry(t.id, t.text, misconception=t.misconception) for t in getattr(m, self.targets_key)),
            shuffle=m.shuffle,
        )

    def parse(self, compiled: AssignmentSpec, raw: Any) -> dict[str, str]:
        """Accept `{item_id: target_id}` (or its JSON string) covering every item."""
        return parse_mapping(raw, {i.id: i.text for i in compiled.items}, [t.id for t in compiled.targets],
                             self.item_word, self.target_word)

    def grade(self, compiled: AssignmentSpec, answer: dict[str, str], ctx: Context) -> Result:
        """One check per item; score = share assigned to the right target; a misconception fails the exercise."""
        targets = {t.id: t for t in compiled.targets}
        checks = []
        for item in compiled.items:
            chosen = targets[answer[item.id]]
            ok = chosen.id == item.target
            message = self.describe(item, chosen.text, ok)
            if chosen.misconception:
                # A near-perfect score must not pass someone who holds the very belief the lesson corrects.
                message = f"{message} {chosen.misconception}"
            checks.append(Check(id=f"{self.check_prefix}:{item.id}", passed=ok, weight=1.0, earned=1.0 if ok else 0.0,
                                message=message, required=bool(chosen.misconception)))
        return finish(sum(1 for c in checks if c.passed) / len(checks), checks, ctx, self.version)

    def describe(self, item: Entry, chosen: str, ok: bool) -> str:
        """The learner-facing verdict on one item."""
        raise NotImplementedError

    def present(self, compiled: AssignmentSpec, seed: int) -> dict[str, Any]:
        """Both lists as `{id, text}`, shuffled by seed unless the spec says not to; no links or feedback."""
        items = [{"id": i.id, "text": i.text} for i in compiled.items]
        targets = [{"id": t.id, "text": t.text} for t in compiled.targets]
        if compiled.shuffle:
            items = shuffled(items, seed)
            if self.shuffle_targets:
                # A different stream for the second list, so the two columns are not shuffled in step.
                targets = shuffled(targets, seed + 1)
        return {"type": self.type_name, self.items_key: items, self.targets_key: targets}

    def answer_key(self, compiled: AssignmentSpec) -> dict[str, Any]:
        """Every item's target and feedback, plus the targets no item uses."""
        used = {i.target for i in compiled.items}
        return {
            self.key_name: {i.id: i.target for i in compiled.items},
            self.items_key: [{"id": i.id, "text": i.text, self.link_key: i.target, "feedback": i.feedback}
                             for i in compiled.items],
            self.targets_key: [_target_key(t) for t in compiled.targets],
            "distractors": [t.id for t in compiled.targets if t.id not in used],
        }
