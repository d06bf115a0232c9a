"""Between HTML forms and grader answers: read an answer from posted fields, and describe one for feedback.

Field names per type: single/multiple choice `answer` (radio / checkboxes); matching `match-<left id>`;
categorize `cat-<item id>`; cloze `blank-<blank id>`; text `answer`; ordering `order` and `left_out`
(hidden fields holding item ids in the learner's current order) plus a `move` button value `up:<id>`,
`down:<id>`, `out:<id>` or `in:<id>` when an item is moved without JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from graders import MAX_ANSWER_CHARS

# The posted fields that hold an answer (or an ordering move), by exact name and by prefix.
ANSWER_FIELD_NAMES = ("answer", "order", "left_out", "move")
ANSWER_FIELD_PREFIXES = ("match-", "cat-", "blank-")

# What the learner sees when they send a form with nothing filled in, per type.
EMPTY_MESSAGES = {
    "single_choice": "Choose one of the options before sending.",
    "multiple_choice": "Tick at least one option before sending.",
    "matching": "Choose a match for at least one item before sending.",
    "categorize": "Choose a group for at least one item before sending.",
    "cloze": "Fill in at least one blank before sending.",
    "text": "Write your answer before sending.",
    "ordering": "Keep at least one card in your order before sending.",
}


@dataclass
class Draft:
    """The learner's current (unsent or re-shown) answer, in the shape the exercise templates use."""

    choice: str | None = None
    choices: list[str] = field(default_factory=list)
    pairs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    order: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def _ids(view: dict[str, Any], key: str) -> list[str]:
    """Return the ids of a list of {id, text} entries in a learner view."""
    return [entry["id"] for entry in view.get(key, [])]


def initial_draft(exercise_type: str, view: dict[str, Any]) -> Draft:
    """Return the empty answer a fresh form starts from (ordering: every card in the order shown)."""
    if exercise_type == "ordering":
        return Draft(order=list(view.get("shown_order") or _ids(view, "items")))
    return Draft()


def _ordering_lists(view: dict[str, Any], form: MultiDict[str, str]) -> tuple[list[str], list[str]]:
    """Return (order, left out) from the hidden fields, keeping only known ids, each once, none lost."""
    known = list(view.get("shown_order") or _ids(view, "items"))
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
    return order, left_out


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


def _known_pairs(form: MultiDict[str, str], prefix: str, keys: list[str], values: list[str]) -> dict[str, str]:
    """Return {key: value} for the posted `<prefix><key>` fields whose value is one of `values`."""
    return {k: form[f"{prefix}{k}"] for k in keys if form.get(f"{prefix}{k}") in values}


def draft_from_form(exercise_type: str, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
    """Read the learner's answer fields into a Draft, ignoring anything that is not an answer field.

    Choice, matching and categorize values that are none of the exercise's ids are dropped here (as unknown ordering
    cards are), so the grader only ever sees ids: a posted string is never parsed as JSON (thousands of nested
    brackets made json.loads recurse until it crashed).
    """
    if exercise_type == "single_choice":
        choice = form.get("answer")
        return Draft(choice=choice if choice in _ids(view, "options") else None)
    if exercise_type == "multiple_choice":
        options = _ids(view, "options")
        return Draft(choices=[v for v in form.getlist("answer") if v in options])
    if exercise_type == "matching":
        return Draft(pairs=_known_pairs(form, "match-", _ids(view, "left"), _ids(view, "right")))
    if exercise_type == "categorize":
        return Draft(pairs=_known_pairs(form, "cat-", _ids(view, "items"), _ids(view, "groups")))
    if exercise_type == "cloze":
        return Draft(pairs={b: form.get(f"blank-{b}", "") for b in view.get("blanks", [])})
    if exercise_type == "ordering":
        order, left_out = _ordering_lists(view, form)
        return Draft(order=order, left_out=left_out)
    return Draft(text=form.get("answer", ""))


def answer_from_draft(exercise_type: str, draft: Draft) -> Any:
    """Return the answer in the shape the grader takes, or None when nothing was filled in."""
    if exercise_type == "single_choice":
        return draft.choice
    if exercise_type == "multiple_choice":
        return list(draft.choices) or None
    if exercise_type in ("matching", "categorize"):
        return dict(draft.pairs) or None
    if exercise_type == "cloze":
        return dict(draft.pairs) if any(v.strip() for v in draft.pairs.values()) else None
    if exercise_type == "ordering":
        return list(draft.order) or None
    return draft.text if draft.text.strip() else None


def draft_from_answer(exercise_type: str, view: dict[str, Any], answer: Any) -> Draft:
    """Turn a stored answer back into a Draft (to prefill a retry); unexpected shapes give an empty draft."""
    if exercise_type == "single_choice" and isinstance(answer, str):
        return Draft(choice=answer)
    if exercise_type == "multiple_choice" and isinstance(answer, list):
        return Draft(choices=[str(a) for a in answer])
    if exercise_type in ("matching", "categorize", "cloze") and isinstance(answer, dict):
        return Draft(pairs={str(k): str(v) for k, v in answer.items()})
    if exercise_type == "ordering" and isinstance(answer, list):
        known = list(view.get("shown_order") or _ids(view, "items"))
        order = [a for a in answer if a in known]
        return Draft(order=order, left_out=[i for i in known if i not in order])
    if exercise_type == "text" and isinstance(answer, str):
        return Draft(text=answer)
    return initial_draft(exercise_type, view)


def form_pairs(form: MultiDict[str, str], limit: int = MAX_ANSWER_CHARS) -> tuple[list[list[str]], bool]:
    """Return the posted answer fields as [name, value] pairs (JSON-ready) and whether any had to be cut.

    Tokens, buttons and empty fields are left out, and names plus values stop at `limit` characters in all (the
    answer cap: an anonymous post could otherwise store a 1 MB draft); the field that crosses it is shortened.
    """
    skip = {"csrf_token", "idempotency_key", "move", "action"}
    pairs: list[list[str]] = []
    room = limit
    for name, value in form.items(multi=True):
        if name in skip or not value:
            continue
        if len(name) + len(value) > room:
            if room > len(name):
                pairs.append([name, value[:room - len(name)]])
            return pairs, True
        pairs.append([name, value])
        room -= len(name) + len(value)
    return pairs, False


def describe_answer(exercise_type: str, view: dict[str, Any], answer: Any) -> list[tuple[str, str]]:
    """Return the learner's structured answer as readable (label, value) rows for the feedback page."""
    texts = {e["id"]: e["text"] for key in ("options", "items", "left", "right", "groups") for e in view.get(key, [])}

    def name(ident: Any) -> str:
        """Return the text shown for an id, or the id itself."""
        return texts.get(ident, str(ident))

    if exercise_type == "single_choice" and isinstance(answer, str):
        return [("Your choice", name(answer))]
    if exercise_type == "multiple_choice" and isinstance(answer, list):
        return [("Ticked", name(a)) for a in answer]
    if exercise_type in ("matching", "categorize") and isinstance(answer, dict):
        return [(name(k), name(v)) for k, v in answer.items()]
    if exercise_type == "cloze" and isinstance(answer, dict):
        blanks = view.get("blanks", [])
        return [(f"Blank {blanks.index(k) + 1}" if k in blanks else str(k), str(v)) for k, v in answer.items()]
    if exercise_type == "ordering" and isinstance(answer, list):
        return [(f"{i}.", name(a)) for i, a in enumerate(answer, start=1)]
    return [("Your answer", answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False))]
