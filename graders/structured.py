"""Helpers shared by the structured grader types (choice, matching, categorize, cloze, ordering).

They cover the parts every structured type does the same way: reading a list of `{id, text, ...}`
entries from a spec, decoding the CLI's JSON string forms, turning a score into a Result, and the
seeded shuffle used by `present`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from graders.base import Check, Context, Grader, InvalidAnswer, Result, SpecIssue
from graders.spec import SpecReader, raise_if, unique_ids

# Scores are rounded so that 0.8 stays 0.8 after (right - wrong) / n arithmetic.
SCORE_DIGITS = 6

# Ids are short slugs; anything else in an answer is refused before it reaches a message.
MAX_ID_CHARS = 80
# Slugs only: answers arrive as "a,b,c" lists, form field names and {{blank}} markers, so no spaces or commas.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_spec_id(ident: str, path: str, issues: list[SpecIssue]) -> None:
    """Record an issue when a spec id is not a short slug a learner's answer can name."""
    if ident and (not ID_PATTERN.fullmatch(ident) or len(ident) > MAX_ID_CHARS):
        issues.append(SpecIssue(path, f"{ident!r} is not a valid id: use up to {MAX_ID_CHARS} letters, digits, "
                                      "hyphens or underscores, starting with a letter or digit"))


def read_entries(
    reader: SpecReader,
    name: str,
    issues: list[SpecIssue],
    read_extra: Callable[[SpecReader], dict[str, Any]],
    required: bool = True,
    minimum: int = 1,
) -> list[dict[str, Any]]:
    """Read a list of `{id, text, ...}` mappings; `read_extra` reads the type-specific keys of each entry."""
    raw = (reader.req if required else reader.opt)(name, list, [])
    path = reader.key(name)
    if raw is not None and required and len(raw) < minimum:
        issues.append(SpecIssue(path, f"needs at least {minimum} entries, got {len(raw)}"))
    entries: list[dict[str, Any]] = []
    id_paths: list[tuple[str, str]] = []
    for i, item in enumerate(raw or []):
        r = SpecReader(item, f"{path}[{i}]", issues)
        ident = r.req("id", str, "")
        text = r.req("text", str, "")
        if isinstance(item, Mapping) and "id" in item and isinstance(ident, str) and not ident.strip():
            issues.append(SpecIssue(r.key("id"), "must not be empty"))
        elif isinstance(ident, str):
            check_spec_id(ident, r.key("id"), issues)
        if isinstance(item, Mapping) and "text" in item and isinstance(text, str) and not text.strip():
            issues.append(SpecIssue(r.key("text"), "must not be empty"))
        extra = read_extra(r)
        r.done()
        if ident:
            id_paths.append((r.key("id"), ident))
        entries.append({"id": ident, "text": text, "path": r.path, **extra})
    unique_ids(id_paths, issues)
    return entries


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


class AssignmentGrader(Grader):
    """Shared logic of graders where each item is assigned one target: score = share assigned correctly.

    Subclasses name the spec keys (`items_key`, `targets_key`, `link_key`), the words used in messages,
    and how one item's verdict reads (`describe`).
    """

    items_key: ClassVar[str]
    targets_key: ClassVar[str]
    link_key: ClassVar[str]
    item_word: ClassVar[str] = "item"
    target_word: ClassVar[str]  # what the learner calls a target in messages ("match", "group")
    target_label: ClassVar[str]  # what an author calls it in spec errors ("right option", "group")
    check_prefix: ClassVar[str]
    shuffle_targets: ClassVar[bool]
    key_name: ClassVar[str]  # name of the {item: target} mapping in the answer key

    def compile(self, spec: Mapping[str, Any]) -> AssignmentSpec:
        """Validate both lists and that every item's link names a known target."""
        issues: list[SpecIssue] = []
        r = SpecReader(spec, "spec", issues)
        link = self.link_key

        def read_item(er: SpecReader) -> dict[str, Any]:
            """Read the link and feedback of one item."""
            return {link: er.req(link, str, ""), "feedback": er.opt("feedback", str, "")}

        def read_target(er: SpecReader) -> dict[str, Any]:
            """Read a target's optional misconception message."""
            return {"misconception": er.opt("misconception", str, "")}

        items = read_entries(r, self.items_key, issues, read_item, minimum=2)
        targets = read_entries(r, self.targets_key, issues, read_target, minimum=2)
        shuffle = r.opt("shuffle", bool, True)
        r.done()
        target_ids = {t["id"] for t in targets}
        misconceptions = {t["id"] for t in targets if t["misconception"]}
        for e in items:
            if e[link] and targets and e[link] not in target_ids:
                issues.append(SpecIssue(f"{e['path']}.{link}", f"unknown {self.target_label} {e[link]!r}"))
            elif e[link] in misconceptions:
                issues.append(SpecIssue(f"{e['path']}.{link}", f"{e[link]!r} is marked as a misconception, so it "
                                                               f"cannot be the right {self.target_label}"))
        raise_if(issues)
        return AssignmentSpec(
            items=tuple(Entry(e["id"], e["text"], e[link], e["feedback"]) for e in items),
            targets=tuple(Entry(t["id"], t["text"], misconception=t["misconception"]) for t in targets),
            shuffle=shuffle,
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
