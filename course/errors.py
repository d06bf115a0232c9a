"""Content errors: every problem the loader finds, located by file, line and key, reported together."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ContentError:
    """One problem in a course file: where it is (path, line, key) and what is wrong."""

    path: str  # relative to the course root (or as given, for files outside it)
    line: int | None  # 1-based; None when the problem has no single line (e.g. a missing file)
    key: str  # dotted key path such as `spec.checks[2].regex`; "" when the whole file is concerned
    message: str

    def __str__(self) -> str:
        """Render as `path:line: key: message`, leaving out the parts that are unknown."""
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ContentErrors(Exception):
    """The course content has errors; carries all of them, sorted by file and line."""

    def __init__(self, errors: Iterable[ContentError]):
        """Keep every error, in a stable order, so authors can fix them in one pass."""
        self.errors: tuple[ContentError, ...] = tuple(
            sorted(errors, key=lambda e: (e.path, e.line or 0, e.key, e.message))
        )
        super().__init__(str(self))

    def __str__(self) -> str:
        """One error per line, then a count."""
        count = len(self.errors)
        lines = [str(e) for e in self.errors]
        lines.append(f"{count} error{'' if count == 1 else 's'} in the course content")
        return "\n".join(lines)

    def __iter__(self) -> Iterator[ContentError]:
        """Iterate over the errors."""
        return iter(self.errors)

    def __len__(self) -> int:
        """Return how many errors there are."""
        return len(self.errors)
