"""Ordering: cards in hidden `order` and `left_out` fields, rearranged by `move` buttons or by ordering.js."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from web.types.base import Draft, ExerciseType, FormStep, as_posted, ids, register, texts


def apply_move(draft: Draft, move: str) -> Draft:
    """Apply one no-JavaScript ordering button ('up:<id>', 'down:<id>', 'out:<id>', 'in:<id>')."""
    action, _, ident = move.partition(":")
    order, left_out = list(draft.order), list(draft.left_out)
    if action in ("up", "down") and ident in order:
        i = order.index(ident)
        j = i - 1 if action == "up" else i + 1
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
    elif action == "out" and ident in order:
        order.remove(ident)
        left_out.append(ident)
    elif action == "in" and ident in left_out:
        left_out.remove(ident)
        order.append(ident)
    return Draft(order=order, left_out=left_out)


def focus_after_move(draft: Draft, move: str) -> str:
    """Return the button value to focus after a no-JavaScript move, so keyboard users stay on their card."""
    action, _, ident = move.partition(":")
    if action == "out":
        return f"in:{ident}"
    if action == "in":
        return f"out:{ident}"
    order = draft.order
    if action == "up" and order and order[0] == ident:
        return f"down:{ident}"
    if action == "down" and order and order[-1] == ident:
        return f"up:{ident}"
    return move


def _cards(view: dict[str, Any]) -> list[str]:
    """Return every card of the exercise in the order the learner was shown them."""
    return list(view.get("shown_order") or ids(view, "items"))


@register
class Ordering(ExerciseType):
    """Put the cards that belong in order and leave the others out."""

    name = "ordering"
    empty_message = "Keep at least one card in your order before sending."
    script = "ordering.js"
    field_names = ("order", "left_out", "move")
    id_lists = ("items",)
    answer_shape = list

    def initial_draft(self, view: dict[str, Any]) -> Draft:
        """Return every card in the order shown, none left out."""
        return Draft(order=_cards(view))

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Return (order, left out) from the hidden fields, keeping only known cards, each once, none lost."""
        known = _cards(view)
        seen: set[str] = set()
        order: list[str] = []
        left_out: list[str] = []
        for name, target in (("order", order), ("left_out", left_out)):
            for ident in form.getlist(name):
                if ident in known and ident not in seen:
                    seen.add(ident)
                    target.append(ident)
        # A card missing from both lists (a tampered or truncated form) goes back at the end of the order.
        order.extend(i for i in known if i not in seen)
        return Draft(order=order, left_out=left_out)

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return the ordered cards' ids, or None when every card is left out."""
        return list(draft.order) or None

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Return the stored order, with every other card left out."""
        if not isinstance(answer, list):
            return self.initial_draft(view)
        known = _cards(view)
        order = [a for a in answer if a in known]
        return Draft(order=order, left_out=[i for i in known if i not in order])

    def move(self, draft: Draft, move: str) -> tuple[Draft, str] | None:
        """Apply a Move up / Move down / Leave out / Put back button and keep the focus on that card."""
        moved = apply_move(draft, move)
        return moved, focus_after_move(moved, move)

    def describe(self, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
        """Return the cards numbered in the learner's order."""
        if not isinstance(answer, list):
            return as_posted(answer)
        names = texts(view, "items")
        return [(f"{i}.", names.get(a, str(a))) for i, a in enumerate(answer, start=1)]

    def form_fields(self, view: dict[str, Any], answer: Any) -> dict[str, Any]:
        """Return the cards of `answer` as the order and every other card as left out."""
        return {"order": list(answer), "left_out": [i for i in ids(view, "items") if i not in answer]}

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Place the answer's cards in order, by their texts (the rest are left out)."""
        names = texts(view, "items")
        return [FormStep("place", names[ident]) for ident in answer]
