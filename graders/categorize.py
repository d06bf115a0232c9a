"""`categorize` grader: sort items into groups.

Spec shape:

    groups:
      - {id: strong, text: "Strong closing question"}
      - {id: avoid, text: "Leave it out"}
    items:
      - {id: salary-first, text: "How much holiday do I get?", group: avoid,
         feedback: "Shown when misplaced: why it belongs in `avoid`"}
    shuffle: true           # optional; shuffles the items (groups keep their authored order)

Answer: `{item_id: group_id}` covering every item. Score = share of items placed in their group.
"""

from __future__ import annotations

from graders.base import register
from graders.structured import AssignedModel, AssignmentGrader, AssignmentModel, Entry, TargetModel, entries_field


class CategorizeItem(AssignedModel):
    """An item and the group it belongs in."""

    group: str


class CategorizeSpec(AssignmentModel):
    """The `spec:` of a categorize exercise."""

    items_key = "items"
    targets_key = "groups"
    link_key = "group"
    target_label = "group"
    groups: list[TargetModel] = entries_field()
    items: list[CategorizeItem] = entries_field()


@register
class CategorizeGrader(AssignmentGrader):
    """Items sorted into groups, one check per item."""

    type_name = "categorize"
    # 2: a target may carry a `misconception`; assigning any item to it fails the exercise.
    version = "2"
    spec_model = CategorizeSpec
    target_word = "group"
    check_prefix = "item"
    # Groups are the buckets on screen; a stable order is easier to scan than a shuffled one.
    shuffle_targets = False
    key_name = "placements"

    def describe(self, item: Entry, chosen: str, ok: bool) -> str:
        """'<item> - <group>: right.' or 'not <group>' with the item's feedback."""
        if ok:
            return f"{item.text} - {chosen}: right."
        return f"{item.text} - not {chosen}. {item.feedback}".strip()
