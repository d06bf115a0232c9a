"""Between HTML forms and grader answers: the option tokens that hide ids, and the posted answer fields.

Each exercise type's own fields, drafts and answer shapes are in its module in `web/types/` (field names are listed
in each module's docstring). In the learner's form every id is an opaque token (`OptionTokens`): the ids name
verdicts ('tied-to-needs' against 'generic') and even answers (a cloze blank called 'thank'). Drafts live in token
space; `to_ids` turns a finished answer back into ids for the grader, `to_tokens` a stored answer into the form's
tokens. Stored answers keep ids.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from werkzeug.datastructures import MultiDict

from graders import MAX_ANSWER_CHARS
from web import types

# The posted fields that hold an answer (or an ordering move), by exact name and by prefix, over every type.
ANSWER_FIELD_NAMES = tuple(dict.fromkeys(n for t in types.REGISTRY.values() for n in t.field_names))
ANSWER_FIELD_PREFIXES = tuple(dict.fromkeys(p for t in types.REGISTRY.values() for p in t.field_prefixes))
# The lists of {id, text} entries a learner view may hold, over every type.
ENTRY_KEYS = tuple(dict.fromkeys(k for t in types.REGISTRY.values() for k in t.id_lists))
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
        return types.get(exercise_type).rename(answer, self.to_id)

    def to_tokens(self, exercise_type: str, answer: Any) -> Any:
        """Return a stored answer (ids) with the form's tokens, to prefill a retry."""
        return types.get(exercise_type).rename(answer, self.to_token)


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
