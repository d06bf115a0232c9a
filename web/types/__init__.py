"""The web half of every exercise type, one module each, registered by type name (as graders are).

Importing this package registers every built-in type. Adding a type means one module here that defines an
`ExerciseType` subclass decorated with `@register`, plus one import below, and its form partial
`templates/exercises/types/<type>.html`.
"""

from web.types import categorize, cloze, matching, multiple_choice, ordering, single_choice, text  # noqa: F401
from web.types.base import REGISTRY, Draft, ExerciseType, FormStep, get, register

__all__ = ["REGISTRY", "Draft", "ExerciseType", "FormStep", "get", "register"]
