"""Matching: one list per left-hand item, posted as `match-<left id>` with a right-hand id."""

from __future__ import annotations

from typing import Any

from web.types.base import FormStep, PairsType, register, texts


@register
class Matching(PairsType):
    """Match each left-hand item with one right-hand option."""

    name = "matching"
    empty_message = "Choose a match for at least one item before sending."
    prefix = "match-"
    items_key = "left"
    targets_key = "right"

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Select each item's match in its list."""
        left, right = texts(view, "left"), texts(view, "right")
        return [FormStep("select", left[k], right[v]) for k, v in answer.items()]
