"""Helpers shared by the structured grader types (choice, matching, categorize, cloze, ordering).

They cover the parts every structured type does the same way: reading a list of `{id, text, ...}`
entries from a spec, decoding the CLI's JSON string forms, turning a score into a Result, and the
seeded shuffle used by `present`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graders.base import Check, Context, InvalidAnswer, Result, SpecIssue
from graders.spec import SpecReader, unique_ids

# Scores are rounded so that 0.8 stays 0.8 after (right - wrong) / n arithmetic.
SCORE_DIGITS = 6

# Ids are short slugs; anything else in an answer is refused before it reaches a message.
MAX_ID_CHARS = 80


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


def parse_mapping(raw: Any, keys: Sequence[str], values: Sequence[str], what_key: str, what_value: str,
                  require_all: bool = True) -> dict[str, str]:
    """Parse an `{key_id: value_id}` answer, refusing unknown keys or values and (optionally) missing keys."""
    data = decode_json(raw)
    if not isinstance(data, Mapping):
        raise InvalidAnswer(f"The answer must map each {what_key} to a {what_value}, got {_kind(data)}.")
    known_keys = set(keys)
    known_values = set(values)
    out: dict[str, str] = {}
    for k, v in data.items():
        key = check_id(k, f"A {what_key} id")
        if key not in known_keys:
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
        missing = [k for k in keys if k not in out]
        if missing:
            raise InvalidAnswer(f"Every {what_key} needs a {what_value}; missing: {', '.join(missing)}.")
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
        message = summary(score, passed, required_failed)
    return Result(score=score, passed=passed, status=status_for(score), checks=tuple(checks),
                  grader_version=version, message=message)


def summary(score: float, passed: bool, required_failed: bool) -> str:
    """One-line learner summary of a result."""
    pct = round(score * 100)
    if score >= 1.0 and passed:
        return "All correct."
    if passed:
        return f"Passed with {pct}%. Check the notes below for what to tighten."
    if required_failed:
        return f"Not passed yet ({pct}%): one of the must-haves is missing. See the notes below."
    return f"Not passed yet ({pct}%). See the notes below."


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
