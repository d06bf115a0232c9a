"""`matching` grader: match each left-hand item to one right-hand option.

Spec shape:

    left:
      - {id: ask-team, text: "What does a typical week look like?", match: day-to-day,
         feedback: "Shown when this pair is wrong: why it belongs with day-to-day"}
    right:                    # may hold more options than `left` has items: the spares are distractors
      - {id: day-to-day, text: "Picture the daily work"}
      - {id: pressure, text: "Force a decision", misconception: "Why this belief fails the exercise"}
    shuffle: true             # optional; shuffles both columns

Answer: `{left_id: right_id}` covering every left item. Score = share of correct pairs.
"""

from __future__ import annotations

from graders.base import register
from graders.structured import AssignedModel, AssignmentGrader, AssignmentModel, Entry, TargetModel, entries_field


class MatchingItem(AssignedModel):
    """A left-hand item and the right-hand option it matches."""

    match: str


class MatchingSpec(AssignmentModel):
    """The `spec:` of a matching exercise."""

    items_key = "left"
    targets_key = "right"
    link_key = "match"
    target_label = "right option"
    left: list[MatchingItem] = entries_field()
    right: list[TargetModel] = entries_field()


@register
class MatchingGrader(AssignmentGrader):
    """Left items matched to right options, one check per pair."""

    type_name = "matching"
    # 2: a target may carry a `misconception`; assigning any item to it fails the exercise.
    version = "2"
    spec_model = MatchingSpec
    target_word = "match"
    check_prefix = "pair"
    shuffle_targets = True
    key_name = "pairs"

    def describe(self, item: Entry, chosen: str, ok: bool) -> str:
        """'<left> -> <right>: right.' or the same with 'not quite' and the pair's feedback."""
        if ok:
            return f"{item.text} -> {chosen}: right."
        return f"{item.text} -> {chosen}: not quite. {item.feedback}".strip()
