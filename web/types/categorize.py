"""Categorize: one group of radio buttons per item, posted as `cat-<item id>` with a group id."""

from __future__ import annotations

from typing import Any

from web.types.base import FormStep, PairsType, register, texts


@register
class Categorize(PairsType):
    """Put each item in one group."""

    name = "categorize"
    empty_message = "Choose a group for at least one item before sending."
    prefix = "cat-"
    items_key = "items"
    targets_key = "groups"

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Check each item's group inside the item's own fieldset."""
        items, groups = texts(view, "items"), texts(view, "groups")
        return [FormStep("check", groups[v], group=items[k]) for k, v in answer.items()]
