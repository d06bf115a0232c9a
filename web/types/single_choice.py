"""Single choice: one radio button per option, posted as `answer`."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from web.types.base import Draft, ExerciseType, FormStep, as_posted, ids, register, texts


@register
class SingleChoice(ExerciseType):
    """Pick one option."""

    name = "single_choice"
    empty_message = "Choose one of the options before sending."
    id_lists = ("options",)

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Return the posted option, if it is one of the exercise's."""
        choice = form.get("answer")
        return Draft(choice=choice if choice in ids(view, "options") else None)

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return the chosen option's id."""
        return draft.choice

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Return the stored choice as a draft."""
        return Draft(choice=answer) if isinstance(answer, str) else self.initial_draft(view)

    def describe(self, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
        """Return the chosen option's text."""
        if not isinstance(answer, str):
            return as_posted(answer)
        return [("Your choice", texts(view, "options").get(answer, answer))]

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Check the chosen option."""
        return [FormStep("check", texts(view, "options")[answer])]

    def expresses(self, answer: Any) -> bool:
        """Say whether `answer` is a bare id (a sample may be written as a JSON string such as '"id"')."""
        return isinstance(answer, str) and re.fullmatch(r"[\w.-]+", answer) is not None
