"""The one entry point the rest of the product uses to compile specs and grade answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graders.base import (
    MAX_ANSWER_CHARS,
    REGISTRY,
    Context,
    InvalidAnswer,
    Result,
)


class GraderCrash(RuntimeError):
    """A grader raised something other than InvalidAnswer: a bug, reported with the exercise type."""


def compile_spec(type_name: str, spec: Mapping[str, Any]) -> Any:
    """Compile a raw spec for a type; raises UnknownGraderType or SpecError (with every issue)."""
    return REGISTRY.get(type_name).compile(spec)


def invalid(message: str, version: str = "") -> Result:
    """Build the result for an answer that could not be parsed (costs no attempt)."""
    return Result(score=0.0, passed=False, status="invalid", checks=(), grader_version=version, message=message)


def _too_big(raw: Any) -> bool:
    """Return True when the raw answer is over the size limit, whatever its shape."""
    if isinstance(raw, str):
        return len(raw) > MAX_ANSWER_CHARS
    # Structured answers: measure their total text so a list of huge strings is refused too.
    total = 0
    stack = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        if total > MAX_ANSWER_CHARS:
            return True
    return False


def grade(type_name: str, compiled: Any, raw_answer: Any, ctx: Context | None = None) -> Result:
    """Parse then grade one answer; malformed answers come back as status `invalid`."""
    grader = REGISTRY.get(type_name)
    ctx = ctx or Context()
    if raw_answer is None or (isinstance(raw_answer, str) and not raw_answer.strip()):
        return invalid("The answer is empty.", grader.version)
    if _too_big(raw_answer):
        return invalid(f"The answer is longer than {MAX_ANSWER_CHARS:,} characters.", grader.version)
    try:
        parsed = grader.parse(compiled, raw_answer)
    except InvalidAnswer as exc:
        return invalid(str(exc), grader.version)
    try:
        return grader.grade(compiled, parsed, ctx)
    except InvalidAnswer as exc:
        return invalid(str(exc), grader.version)
    except Exception as exc:  # noqa: BLE001 - re-raised as a named error, never a bare 500
        raise GraderCrash(f"{type_name} grader failed: {exc!r}") from exc


def present(type_name: str, compiled: Any, seed: int) -> dict[str, Any]:
    """Return the learner-visible view of an exercise (no answer key), shuffled by seed."""
    return REGISTRY.get(type_name).present(compiled, seed)


def answer_key(type_name: str, compiled: Any) -> dict[str, Any]:
    """Return the instructor's view of the answer key."""
    return REGISTRY.get(type_name).answer_key(compiled)


def version(type_name: str) -> str:
    """Return the version string of a grader type, stored with each attempt."""
    return f"{type_name}/{REGISTRY.get(type_name).version}"
