"""Moving through a course: its order, the next and previous step, and the outline shown beside each page.

Pure over the course model and what a learner has done (lessons read, exercises passed), so the site, the CLI
and tests all get the same answer. Course order is: a lesson, then that lesson's exercises, then the next lesson;
the certificate comes after the last of them.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass

from course.model import Course

LESSON, EXERCISE, CERTIFICATE = "lesson", "exercise", "certificate"
CERTIFICATE_TITLE = "Your certificate"


@dataclass(frozen=True)
class Item:
    """One step of the course: a lesson, an exercise, or the certificate at the end."""

    kind: str  # LESSON, EXERCISE or CERTIFICATE
    id: str
    title: str


@dataclass(frozen=True)
class OutlineEntry:
    """An item of the outline with whether the learner has done it and whether it is the page being shown."""

    item: Item
    done: bool
    current: bool
    exercises: tuple[OutlineEntry, ...] = ()  # a lesson's exercises, in course order


@dataclass(frozen=True)
class OutlineModule:
    """A module of the outline and its lessons."""

    id: str
    title: str
    lessons: tuple[OutlineEntry, ...]


@dataclass(frozen=True)
class Outline:
    """The whole course as a learner sees it beside a page: modules, ticks, the current item, the share done."""

    modules: tuple[OutlineModule, ...]
    done: int
    total: int

    @property
    def percent(self) -> int:
        """Return the share of the course done, as a whole percentage rounded down (100 only when all is done)."""
        return self.done * 100 // self.total if self.total else 0


# A site holds one course, a test run a handful: the path is worked out once per course, not on every page.
@functools.lru_cache(maxsize=16)
def course_path(course: Course) -> tuple[Item, ...]:
    """Return every lesson and exercise in course order (each lesson followed by its own exercises)."""
    path = []
    for lesson_id in course.lesson_order():
        lesson = course.lessons[lesson_id]
        path.append(Item(LESSON, lesson_id, lesson.title))
        path.extend(Item(EXERCISE, e, course.exercises[e].title) for e in lesson.exercises)
    return tuple(path)


def _position(course: Course, kind: str, ident: str) -> tuple[tuple[Item, ...], int]:
    """Return the course path and the index of one item on it (ValueError for an item not in the course)."""
    path = course_path(course)
    for index, item in enumerate(path):
        if item.kind == kind and item.id == ident:
            return path, index
    raise ValueError(f"no {kind} {ident!r} in the course")


def next_item(course: Course, kind: str, ident: str) -> Item:
    """Return the step after a lesson or exercise in course order; after the last one, the certificate."""
    path, index = _position(course, kind, ident)
    return path[index + 1] if index + 1 < len(path) else Item(CERTIFICATE, "", CERTIFICATE_TITLE)


def previous_item(course: Course, kind: str, ident: str) -> Item | None:
    """Return the step before a lesson or exercise in course order, or None for the first."""
    path, index = _position(course, kind, ident)
    return path[index - 1] if index > 0 else None


def first_item(course: Course) -> Item | None:
    """Return the course's first step (its first lesson), or None for an empty course."""
    path = course_path(course)
    return path[0] if path else None


def outline(course: Course, read: Collection[str], passed: Collection[str],
            current: tuple[str, str] | None = None) -> Outline:
    """Build the outline: a lesson is done once read, an exercise once passed; `current` is (kind, id) of the page."""
    modules = []
    done = total = 0
    for module in course.modules:
        lessons = []
        for lesson_id in module.lessons:
            lesson = course.lessons[lesson_id]
            exercises = tuple(
                OutlineEntry(Item(EXERCISE, e, course.exercises[e].title), e in passed, current == (EXERCISE, e))
                for e in lesson.exercises
            )
            entry = OutlineEntry(Item(LESSON, lesson_id, lesson.title), lesson_id in read,
                                 current == (LESSON, lesson_id), exercises)
            lessons.append(entry)
            total += 1 + len(exercises)
            done += entry.done + sum(e.done for e in exercises)
        modules.append(OutlineModule(module.id, module.title, tuple(lessons)))
    return Outline(tuple(modules), done, total)
