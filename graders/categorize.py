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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graders.base import Check, Context, Grader, Result, SpecIssue, register
from graders.spec import SpecReader, raise_if
from graders.structured import finish, parse_mapping, read_entries, shuffled


@dataclass(frozen=True)
class Item:
    """One item to sort and the group it belongs in."""

    id: str
    text: str
    group: str
    feedback: str


@dataclass(frozen=True)
class Group:
    """One group (bucket)."""

    id: str
    text: str


@dataclass(frozen=True)
class CategorizeSpec:
    """A compiled categorize spec."""

    groups: tuple[Group, ...]
    items: tuple[Item, ...]
    shuffle: bool


def _read_item(r: SpecReader) -> dict[str, Any]:
    """Read the categorize-specific keys of one item."""
    return {"group": r.req("group", str, ""), "feedback": r.opt("feedback", str, "")}


def _read_group(r: SpecReader) -> dict[str, Any]:
    """Groups carry only id and text."""
    return {}


@register
class CategorizeGrader(Grader):
    """Items sorted into groups, one check per item."""

    type_name = "categorize"
    version = "1"

    def compile(self, spec: Mapping[str, Any]) -> CategorizeSpec:
        """Validate groups and items, and that every item names a known group."""
        issues: list[SpecIssue] = []
        r = SpecReader(spec, "spec", issues)
        groups = read_entries(r, "groups", issues, _read_group, minimum=2)
        items = read_entries(r, "items", issues, _read_item, minimum=2)
        shuffle = r.opt("shuffle", bool, True)
        r.done()
        group_ids = {g["id"] for g in groups}
        for e in items:
            if e["group"] and groups and e["group"] not in group_ids:
                issues.append(SpecIssue(f"{e['path']}.group", f"unknown group {e['group']!r}"))
        raise_if(issues)
        return CategorizeSpec(
            groups=tuple(Group(g["id"], g["text"]) for g in groups),
            items=tuple(Item(e["id"], e["text"], e["group"], e["feedback"]) for e in items),
            shuffle=shuffle,
        )

    def parse(self, compiled: CategorizeSpec, raw: Any) -> dict[str, str]:
        """Accept `{item_id: group_id}` (or its JSON string) covering every item."""
        return parse_mapping(raw, [i.id for i in compiled.items], [g.id for g in compiled.groups],
                             "item", "group")

    def grade(self, compiled: CategorizeSpec, answer: dict[str, str], ctx: Context) -> Result:
        """One check per item; score = share placed in the right group."""
        names = {g.id: g.text for g in compiled.groups}
        checks = []
        for item in compiled.items:
            got = answer[item.id]
            ok = got == item.group
            if ok:
                message = f"{item.text} - {names[got]}: right."
            else:
                message = f"{item.text} - not {names[got]}. {item.feedback}".strip()
            checks.append(Check(id=f"item:{item.id}", passed=ok, weight=1.0, message=message,
                                earned=1.0 if ok else 0.0))
        score = sum(1 for c in checks if c.passed) / len(checks)
        return finish(score, checks, ctx, self.version)

    def present(self, compiled: CategorizeSpec, seed: int) -> dict[str, Any]:
        """Groups in authored order and the items shuffled by seed; no placements."""
        items = [{"id": i.id, "text": i.text} for i in compiled.items]
        if compiled.shuffle:
            items = shuffled(items, seed)
        return {"type": self.type_name, "groups": [{"id": g.id, "text": g.text} for g in compiled.groups],
                "items": items}

    def answer_key(self, compiled: CategorizeSpec) -> dict[str, Any]:
        """Every item's group and feedback."""
        return {
            "placements": {i.id: i.group for i in compiled.items},
            "groups": [{"id": g.id, "text": g.text} for g in compiled.groups],
            "items": [{"id": i.id, "text": i.text, "group": i.group, "feedback": i.feedback}
                      for i in compiled.items],
        }
