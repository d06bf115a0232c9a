"""Categorize: one group of radio buttons per item, posted as `cat-<item id>` with a group id."""

from __future__ import annotations

from web.types.base import FormStep, PairsType, register


@register
class Categorize(PairsType):
    """Put each item in one group."""

    name = "categorize"
    empty_message = "Choose a group for at least one item before sending."
    prefix = "cat-"

    def form_step(self, item: str, target: str) -> FormStep:
        """Check the item's group inside the item's own fieldset."""
        return FormStep("check", target, group=item)
