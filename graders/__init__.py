"""Pure, rule-based graders: exercise spec + answer in, frozen Result out.

Importing this package registers every built-in grader type. Adding a type means one
module that defines a `Grader` subclass decorated with `@register`, plus one import here.
"""

from graders import categorize, choice, cloze, matching, ordering, text  # noqa: F401 - registers types
from graders.base import (
    MAX_ANSWER_CHARS,
    REGISTRY,
    Check,
    Context,
    InvalidAnswer,
    Result,
    SpecError,
    SpecIssue,
    UnknownGraderType,
)
from graders.engine import GraderCrash, answer_key, compile_spec, grade, present, version
from graders.labels import CheckLabel, Labels, labels_for

__all__ = [
    "MAX_ANSWER_CHARS",
    "REGISTRY",
    "Check",
    "CheckLabel",
    "Context",
    "GraderCrash",
    "InvalidAnswer",
    "Labels",
    "Result",
    "SpecError",
    "SpecIssue",
    "UnknownGraderType",
    "answer_key",
    "compile_spec",
    "grade",
    "labels_for",
    "present",
    "version",
]
