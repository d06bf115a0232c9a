"""The course engine: load and validate course content, render its Markdown, and the `course` CLI.

`load_course()` returns the immutable Course of course/model.py or raises ContentErrors listing every problem.
"""

from course.errors import ContentError, ContentErrors
from course.loader import load_course

__all__ = ["ContentError", "ContentErrors", "load_course"]
