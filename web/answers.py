"""Between HTML forms and grader answers: read an answer from posted fields, and describe one for feedback.

Field names per type: single/multiple choice `answer` (radio / checkboxes); matching `match-<left id>`;
categorize `cat-<item id>`; cloze `blank-<blank id>`; text `answer`; ordering `order` and `left_out`
(hidden fields holding item ids in the learner's current order) plus a `move` button value `up:<id>`,
`down:<id>`, `out:<id>` or `in:<id>` when an item is moved without JavaScript.

In the learner's form every id is an opaque token (`OptionTokens`): the ids name verdicts ('tied-to-needs' against
'generic') and even answers (a cloze blank called 'thank'). Drafts live in token space; `to_ids` turns a finished
answer back into ids for the grader, `to_tokens` a stored answer into the form's tokens. Stored answers keep ids.
"""

from __future__ import annotations

import hashlib
import hmac
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


# The lists of {id, text} entries a learner view may hold.
ENTRY_KEYS = ("options", "left", "right", "items", "groups")
# Hex digits of the HMAC kept per token: 48 bits, so two ids of one exercise never meet in practice.
TOKEN_DIGITS = 12


class OptionTokens:
    """Opaque per-learner names for the ids of one exercise, so no form shows an id (or what it gives away).

    A token is an HMAC of (learner, exercise, id) under a key derived from SECRET_KEY: the same for one learner every
    time (an open tab, a restored draft and a retry still match), different for every learner and exercise, and
    meaningless without the secret. Changing SECRET_KEY changes them, as it ends every session anyway.
    """

    def __init__(self, to_token: dict[str, str]) -> None:
        """Keep the id-to-token map and its inverse."""
        self.to_token = to_token
        self.to_id = {token: ident for ident, token in to_token.items()}

    @classmethod
    def for_view(cls, secret: str, user_id: int, exercise_id: str, view: dict[str, Any]) -> OptionTokens:
        """Return the tokens for every id in a learner view (the set of ids does not depend on the shuffle)."""
        key = hashlib.sha256(f"option-tokens:{secret}".encode()).digest()
        ids = [e["id"] for k in ENTRY_KEYS for e in view.get(k, [])] + list(view.get("blanks", []))
        digests = {i: hmac.new(key, f"{user_id}:{exercise_id}:{i}".encode(), hashlib.sha256).hexdigest() for i in ids}
        short = {i: d[:TOKEN_DIGITS] for i, d in digests.items()}
        # Should two ids ever share 48 bits, this learner's form for this exercise uses whole digests instead.
        chosen = short if len(set(short.values())) == len(short) else digests
        return cls({i: f"t{d}" for i, d in chosen.items()})

    def form_view(self, view: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of a learner view with every id replaced by its token, for the form and its drafts."""
        t = self.to_token
        out = {k: ([{**e, "id": t[e["id"]]} for e in v] if k in ENTRY_KEYS else v) for k, v in view.items()}
        if "shown_order" in view:
            out["shown_order"] = [t[i] for i in view["shown_order"]]
        if "blanks" in view:
            out["blanks"] = [t[b] for b in view["blanks"]]
            out["segments"] = [{**s, "blank": t[s["blank"]]} if "blank" in s else s for s in view.get("segments", [])]
        return out

    def to_ids(self, exercise_type: str, answer: Any) -> Any:
        """Return an answer built from the form (tokens) with the exercise's ids, for the grader."""
        return _rename(exercise_type, answer, self.to_id)

    def to_tokens(self, exercise_type: str, answer: Any) -> Any:
        """Return a stored answer (ids) with the form's tokens, to prefill a retry."""
        return _rename(exercise_type, answer, self.to_token)


def _rename(exercise_type: str, answer: Any, names: dict[str, str]) -> Any:
    """Rename the ids in an answer of any shape, dropping names the map does not know; text passes unchanged."""
    if exercise_type == "text" or answer is None:
        return answer
    if isinstance(answer, str):
        return names.get(answer)
    if isinstance(answer, list):
        return [names[a] for a in answer if isinstance(a, str) and a in names]
    if isinstance(answer, dict):
        if exercise_type == "cloze":  # blank -> typed text: only the keys are ids
            return {names[k]: v for k, v in answer.items() if k in names}
        return {names[k]: names[v] for k, v in answer.items() if k in names and isinstance(v, str) and v in names}
    return answer


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
