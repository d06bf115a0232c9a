"""Multiple choice: one checkbox per option, all posted as `answer`."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from web.types.base import Draft, ExerciseType, FormStep, as_posted, ids, register, texts


@register
class MultipleChoice(ExerciseType):
    """Tick every option that applies."""

    name = "multiple_choice"
    empty_message = "Tick at least one option before sending."
    id_lists = ("options",)
    answer_shape = list

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Return the posted options that are the exercise's."""
        options = ids(view, "options")
        return Draft(choices=[v for v in form.getlist("answer") if v in options])

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return the ticked options' ids, or None when none is ticked."""
        return list(draft.choices) or None

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Return the stored ticks as a draft."""
        return Draft(choices=[str(a) for a in answer]) if isinstance(answer, list) else self.initial_draft(view)

    def describe(self, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
        """Return one row per ticked option."""
        if not isinstance(answer, list):
            return as_posted(answer)
        names = texts(view, "options")
        return [("Ticked", names.get(a, str(a))) for a in answer]

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Tick each chosen option."""
        names = texts(view, "options")
        return [FormStep("check", names[option]) for option in answer]
