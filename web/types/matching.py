"""Matching: one list per left-hand item, posted as `match-<left id>` with a right-hand id."""

from __future__ import annotations

from web.types.base import FormStep, PairsType, register


@register
class Matching(PairsType):
    """Match each left-hand item with one right-hand option."""

    name = "matching"
    empty_message = "Choose a match for at least one item before sending."
    prefix = "match-"

    def form_step(self, item: str, target: str) -> FormStep:
        """Select the item's match in its list."""
        return FormStep("select", item, target)
