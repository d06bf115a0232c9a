"""Typed, immutable course objects produced by the loader and read by the graders' callers and the site."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    """An article the course draws on, credited by its title."""

    id: str
    title: str


@dataclass(frozen=True)
class Module:
    """A group of lessons, shown in manifest order."""

    id: str
    title: str
    summary: str
    lessons: tuple[str, ...]  # lesson ids in order


@dataclass(frozen=True)
class Lesson:
    """One Markdown lesson with its front matter."""

    id: str
    title: str
    module: str
    order: int
    objectives: tuple[str, ...]
    sources: tuple[str, ...]  # source titles, as written in the front matter
    minutes: int
    summary: str
    body: str  # Markdown, links to exercises written as (exercise:ID) and to lessons as (lesson:ID)
    path: Path
    exercises: tuple[str, ...] = ()  # exercise ids attached to this lesson, in order
    # The attached exercises the body does not link itself: the site lists these under the lesson.
    unlinked_exercises: tuple[str, ...] = ()


@dataclass(frozen=True)
class Samples:
    """Sample answers an author declares: each must grade as declared (checked by `course check`)."""

    passing: tuple[Any, ...] = ()
    failing: tuple[Any, ...] = ()


SOLUTION_WHEN = ("always", "never", "after_pass", "after_attempts")


@dataclass(frozen=True)
class SolutionRule:
    """When feedback may show an exercise's answer key (the explanation, model answers, every option's verdict)."""

    when: str = "after_attempts"  # one of SOLUTION_WHEN
    attempts: int = 3  # for after_attempts: shown once the learner has passed or made this many attempts

    def shown(self, passed: bool, attempts: int) -> bool:
        """Return whether a learner with this record on the exercise may see its solution."""
        if self.when == "always":
            return True
        if self.when == "never":
            return False
        if self.when == "after_pass":
            return passed
        return passed or attempts >= self.attempts

    def describe(self) -> str:
        """Say in words when the solution is shown (for feedback pages and `course show`)."""
        return {
            "always": "with every result",
            "never": "never",
            "after_pass": "once you pass",
        }.get(self.when, f"once you pass or after {self.attempts} attempt{'s' if self.attempts != 1 else ''}")


@dataclass(frozen=True)
class Exercise:
    """One exercise loaded from a data file, with its compiled grading spec."""

    id: str
    type: str
    lesson: str
    title: str
    prompt: str  # Markdown
    spec: Any  # compiled by graders.compile_spec(type, raw spec); opaque to everything but the grader
    raw_spec: Any  # the spec mapping as written, for `course show` and regrade audits
    hints: tuple[str, ...]
    explanation: str  # Markdown, shown only after submission
    pass_threshold: float
    samples: Samples
    path: Path
    order: int = 0
    show_solution: SolutionRule = SolutionRule()


@dataclass(frozen=True)
class Course:
    """The whole loaded course: manifest, modules, lessons and exercises."""

    title: str
    description: str
    root: Path
    sources: tuple[Source, ...]
    modules: tuple[Module, ...]
    lessons: dict[str, Lesson] = field(hash=False)
    exercises: dict[str, Exercise] = field(hash=False)
    completion: dict[str, Any] = field(hash=False, default_factory=dict)
    default_pass_threshold: float = 0.8
    show_solution: SolutionRule = SolutionRule()

    def lesson_order(self) -> list[str]:
        """Return every lesson id in reading order (module order, then lesson order)."""
        return [lid for m in self.modules for lid in m.lessons]

    def exercise_order(self) -> list[str]:
        """Return every exercise id in course order (by lesson, then exercise order)."""
        return [eid for lid in self.lesson_order() for eid in self.lessons[lid].exercises]

    def module_of(self, lesson_id: str) -> Module:
        """Return the module that holds a lesson."""
        return next(m for m in self.modules if lesson_id in m.lessons)
