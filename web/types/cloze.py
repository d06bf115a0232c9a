"""Cloze: one text field per blank inside the passage, posted as `blank-<blank id>`."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from web.types.base import Draft, ExerciseType, FormStep, as_posted, register


@register
class Cloze(ExerciseType):
    """Fill in the blanks of a passage (the view's `blanks` are ids; OptionTokens hides them too)."""

    name = "cloze"
    empty_message = "Fill in at least one blank before sending."
    field_names = ()
    field_prefixes = ("blank-",)
    answer_shape = dict

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Return what was typed in each of the exercise's blanks."""
        return Draft(pairs={b: form.get(f"blank-{b}", "") for b in view.get("blanks", [])})

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return {blank: typed}, or None when every blank is empty."""
        return dict(draft.pairs) if any(v.strip() for v in draft.pairs.values()) else None

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Return the stored blanks as a draft."""
        if isinstance(answer, dict):
            return Draft(pairs={str(k): str(v) for k, v in answer.items()})
        return self.initial_draft(view)

    def rename(self, answer: Any, names: dict[str, str]) -> Any:
        """Rename the blanks; what was typed in them is text, not an id."""
        if isinstance(answer, dict):
            return {names[k]: v for k, v in answer.items() if k in names}
        return super().rename(answer, names)

    def describe(self, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
        """Return one row per blank, named by its place in the passage."""
        if not isinstance(answer, dict):
            return as_posted(answer)
        blanks = view.get("blanks", [])
        return [(f"Blank {blanks.index(k) + 1}" if k in blanks else str(k), str(v)) for k, v in answer.items()]

    def form_fields(self, view: dict[str, Any], answer: Any) -> dict[str, Any]:
        """Return one `blank-<blank>` field per blank filled in."""
        return {f"blank-{k}": v for k, v in answer.items()}

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Type into each blank, found by its label ("Blank 2 of 3")."""
        blanks = view["blanks"]
        return [FormStep("fill", f"Blank {blanks.index(b) + 1} of {len(blanks)}", typed) for b, typed in answer.items()]
