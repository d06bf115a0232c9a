"""Helpers for validating raw grading specs: every issue is collected with its key path, none swallowed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2

from graders.base import SpecIssue
from graders.schema import raise_if, unique_ids  # noqa: F401 - still read from here by graders/text.py

_MISSING = object()
# Case-insensitive, and quiet: a refused pattern is reported as a spec issue, not logged to stderr.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.case_sensitive = False
_RE2_OPTIONS.log_errors = False


class SpecReader:
    """Reads one mapping of a spec, recording issues instead of stopping at the first one.

    Usage: r = SpecReader(raw, "spec", issues); x = r.req("items", list); r.done()
    `done()` rejects keys that were never read, so a typo such as `wieght:` is reported, not ignored.
    """

    def __init__(self, raw: Any, path: str, issues: list[SpecIssue]):
        """Wrap `raw` (expected to be a mapping) found at key path `path`."""
        self.path = path
        self.issues = issues
        self.seen: set[str] = set()
        if isinstance(raw, Mapping):
            self.raw: Mapping[str, Any] = raw
        else:
            self.raw = {}
            issues.append(SpecIssue(path, f"expected a mapping, got {type(raw).__name__}"))

    def key(self, name: str) -> str:
        """Return the dotted key path of a child key."""
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str, types: type | tuple[type, ...], default: Any) -> Any:
        """Fetch a key and type-check it; record an issue and return `default` on mismatch."""
        self.seen.add(name)
        value = self.raw.get(name, _MISSING)
        if value is _MISSING:
            return _MISSING
        # bool is an int subclass; a YAML `yes` must not pass as a number.
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            self.issues.append(SpecIssue(self.key(name), f"expected {_names(types)}, got a boolean"))
            return default
        if not isinstance(value, types):
            self.issues.append(SpecIssue(self.key(name), f"expected {_names(types)}, got {type(value).__name__}"))
            return default
        return value

    def req(self, name: str, types: type | tuple[type, ...], default: Any = None) -> Any:
        """Read a required key."""
        value = self._get(name, types, default)
        if value is _MISSING:
            self.issues.append(SpecIssue(self.key(name), "is required"))
            return default
        return value

    def opt(self, name: str, types: type | tuple[type, ...], default: Any = None) -> Any:
        """Read an optional key."""
        value = self._get(name, types, default)
        return default if value is _MISSING else value

    def number(self, name: str, default: float | None = None, lo: float | None = None,
               hi: float | None = None, required: bool = False) -> float | None:
        """Read an int/float key, optionally bounded to [lo, hi]."""
        value = (self.req if required else self.opt)(name, (int, float), default)
        if value is None:
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.issues.append(SpecIssue(self.key(name), f"must be between {lo} and {hi}, got {value}"))
            return default
        return value

    def str_list(self, name: str, required: bool = False) -> tuple[str, ...]:
        """Read a list of non-empty strings."""
        value = (self.req if required else self.opt)(name, list, [])
        out = []
        for i, item in enumerate(value or []):
            if not isinstance(item, str) or not item.strip():
                self.issues.append(SpecIssue(f"{self.key(name)}[{i}]", "expected a non-empty string"))
            else:
                out.append(item)
        return tuple(out)

    def regex(self, name: str, pattern: Any) -> Any:
        """Compile a case-insensitive regex on RE2 at load time, recording a named issue if it cannot be.

        RE2 runs in time linear in the answer's length whatever the pattern, so no authored rule can hold a
        worker on a crafted answer. It has no look-arounds or back-references; a pattern using them is refused
        here, with its key, rather than at grading time.
        """
        if not isinstance(pattern, str):
            self.issues.append(SpecIssue(self.key(name), "expected a regular expression string"))
            return None
        try:
            return re2.compile(pattern, _RE2_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            if "perl operator" in reason or "escape sequence: \\" in reason:
                message = (f"regular expression cannot be used: {reason}; rules run on RE2, which has no "
                           "look-arounds or back-references")
            else:
                message = f"regular expression does not compile: {reason}"
            self.issues.append(SpecIssue(self.key(name), message))
            return None

    def done(self) -> None:
        """Record every key that was present but never read as unknown."""
        for name in self.raw:
            if name not in self.seen:
                known = ", ".join(sorted(self.seen))
                self.issues.append(SpecIssue(self.key(str(name)), f"unknown key (known keys: {known})"))


def _names(types: type | tuple[type, ...]) -> str:
    """Human names for expected types."""
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a mapping",
             bool: "true/false", Mapping: "a mapping"}
    tup = types if isinstance(types, tuple) else (types,)
    return " or ".join(names.get(t, t.__name__) for t in tup)
