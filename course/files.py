"""The course's files as pydantic models: course.yaml (`Manifest`, `Overlay`), lesson front matter (`LessonFront`)
and exercise files (`ExerciseFile`). The loader validates each file against one of them (graders/schema.py
words the errors); course/schemas.py publishes them as JSON Schemas for editors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema

from course.model import SolutionRule
from graders.schema import MESSAGES, Slug, SpecModel, Text, fail, kind

DEFAULT_PASS_THRESHOLD = 0.8

# A whole number of 1 or more (lesson order, minutes, attempts).
Count = Annotated[int, Field(ge=1)]
# A share such as a pass threshold.
Fraction = Annotated[float, Field(ge=0, le=1)]

_SOLUTION_WORDS = "expected always, never, after_pass, or a mapping such as 'after_attempts: 3'"


def solution_rule(value: Any) -> SolutionRule:
    """Accept `always`, `never`, `after_pass`, or a mapping `after_attempts: N` (N a whole number of 1 or more)."""
    if isinstance(value, str):
        if value in ("always", "never", "after_pass"):
            return SolutionRule(value)
        if value.startswith("after_attempts"):
            raise fail("problem", message=f"{_SOLUTION_WORDS}; write the number as a mapping: 'show_solution: "
                                          "{after_attempts: 3}' or 'after_attempts: 3' on the next line, indented")
        raise fail("problem", message=f"{_SOLUTION_WORDS}, got {value!r}")
    if isinstance(value, Mapping):
        if list(value) != ["after_attempts"]:
            keys = ", ".join(map(str, value)) or "none"
            raise fail("problem", message=f"{_SOLUTION_WORDS}, got a mapping with the keys {keys}")
        count = value["after_attempts"]
        if isinstance(count, bool) or not isinstance(count, int):
            raise fail("problem", message="after_attempts " + MESSAGES["int_type"].format(got=kind(count)))
        if count < 1:
            raise fail("problem", message="after_attempts " + MESSAGES["greater_than_equal"].format(ge=1, input=count))
        return SolutionRule("after_attempts", count)
    raise fail("problem", message=f"{_SOLUTION_WORDS}, got {kind(value)}")


ShowSolution = Annotated[Any, AfterValidator(solution_rule), WithJsonSchema({
    "description": "When a learner sees the worked solution: always, never, after_pass, or after N attempts.",
    "oneOf": [
        {"enum": ["always", "never", "after_pass"]},
        {"type": "object", "properties": {"after_attempts": {"type": "integer", "minimum": 1}},
         "required": ["after_attempts"], "additionalProperties": False},
    ],
})]


def _course_default(description: str) -> Any:
    """A key that, left out, takes course.yaml's value: the loader fills it in, so the schema shows no default."""
    return Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None))


class SourceEntry(SpecModel):
    """One article the course draws on; lessons cite it by title."""

    id: Slug
    title: Text


class ModuleEntry(SpecModel):
    """One module, in course order; lessons join it by its id."""

    id: Slug
    title: Text
    summary: Text = ""


class Overlay(SpecModel):
    """course.yaml of an agency overlay (COURSE_EXTRA_DIRS): more sources and modules for the base course."""

    sources: list[SourceEntry] = []
    # An overlay may add lessons to existing modules only, so it need not declare any of its own.
    modules: list[ModuleEntry] = []


class Manifest(SpecModel):
    """course.yaml of the base course."""

    title: Text
    description: Text = ""
    pass_threshold: Fraction = DEFAULT_PASS_THRESHOLD
    completion: dict[str, Any] = {}
    show_solution: ShowSolution = Field(SolutionRule(), json_schema_extra={"default": {
        SolutionRule().when: SolutionRule().attempts}})
    sources: list[SourceEntry] = []
    modules: list[ModuleEntry] = Field(json_schema_extra={"minItems": 1})


class LessonFront(SpecModel):
    """The YAML front matter of a lesson (lessons/*.md), between its two `---` lines."""

    id: Slug
    title: Text
    module: Slug
    order: Count
    objectives: list[Text]
    sources: list[Text]
    minutes: Count
    summary: Text


class SampleAnswers(SpecModel):
    """Answers `course check` grades: each must pass, or fail, as declared."""

    passing: list[Any] = Field([], alias="pass")
    fail: list[Any] = []


class ExerciseFile(SpecModel):
    """An exercise file (exercises/*.yaml); `spec` is checked by the grader of its `type`."""

    id: Slug
    type: Text
    lesson: Slug
    title: Text
    order: int = 0
    prompt: Text
    spec: dict[str, Any]
    hints: list[Text] = []
    explanation: Text
    pass_threshold: Fraction = _course_default("The share of points that passes; left out, course.yaml's.")
    show_solution: ShowSolution = _course_default("When the solution shows; left out, course.yaml's.")
    samples: SampleAnswers = SampleAnswers()
