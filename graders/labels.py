"""Words for ids: what each check of a compiled spec is called, what it checks, and the texts behind answer ids.

Graders name checks by ids (`option:decided-early`, `pair:q-next`, `blank:hours`, `concerns-or-fit`) and store
answers as ids; instructors read the words. `labels_for(type, compiled)` turns one exercise's spec into that
vocabulary once, purely from the spec: nothing here depends on any learner's answer or feedback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graders.base import REGISTRY
from graders.choice import ChoiceSpec
from graders.cloze import Blank, ClozeSpec
from graders.ordering import OrderingSpec
from graders.structured import AssignmentSpec
from graders.text import GUARD_ID, TextSpec

# Words of the text shown either side of a blank, so "Blank 3" reads as the sentence it sits in.
BLANK_CONTEXT_WORDS = 5


@dataclass(frozen=True)
class CheckLabel:
    """A check as an instructor reads it: its name, and its own wording (what it checks, the same for everyone)."""

    name: str
    wording: str = ""


@dataclass(frozen=True)
class Labels:
    """One exercise's vocabulary: check id -> label, answer id -> the text the learner saw."""

    type_name: str
    checks: Mapping[str, CheckLabel] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    blanks: tuple[str, ...] = ()  # cloze blank ids in text order, so answers read "Blank 2: ..."
    # Keys of mapping answers (items, blanks) in authored order: PostgreSQL's JSONB does not keep the stored order.
    keys: tuple[str, ...] = ()

    def check(self, check_id: str) -> CheckLabel:
        """Return a check's label; an id the spec no longer has (an older rubric) keeps the id as its name."""
        return self.checks.get(check_id) or CheckLabel(check_id, "Not in the exercise's current rubric.")

    def text(self, ident: Any) -> str:
        """Return the text behind an answer id, or the id itself when it is not one of the exercise's."""
        return self.texts.get(str(ident), str(ident))

    def answer(self, answer: Any) -> str:
        """Render a stored answer in words, on one line (ids become the texts the learner chose among)."""
        if self.type_name == "single_choice" and isinstance(answer, str):
            return self.text(answer)
        if isinstance(answer, str):
            return answer
        if self.type_name == "multiple_choice" and isinstance(answer, list):
            return "; ".join(self.text(a) for a in answer)
        if self.type_name == "ordering" and isinstance(answer, list):
            return " ".join(f"{i}. {self.text(a)}" for i, a in enumerate(answer, start=1))
        if isinstance(answer, dict):
            rank = {k: i for i, k in enumerate(self.keys)}
            pairs = sorted(answer.items(), key=lambda kv: (rank.get(str(kv[0]), len(rank)), str(kv[0])))
            if self.type_name == "cloze":
                return "; ".join(f"{self._blank_name(k)}: {v}" for k, v in pairs)
            return "; ".join(f"{self.text(k)} \u2192 {self.text(v)}" for k, v in pairs)
        if isinstance(answer, list):
            return ", ".join(self.text(a) for a in answer)
        return "" if answer is None else str(answer)

    def _blank_name(self, ident: str) -> str:
        """'Blank 2' for a known blank id, else the id."""
        return f"Blank {self.blanks.index(ident) + 1}" if ident in self.blanks else str(ident)


def words_of(ident: str) -> str:
    """Read a slug as words: 'concerns-or-fit' -> 'Concerns or fit'."""
    text = " ".join(re.split(r"[-_]+", ident)).strip()
    return text[:1].upper() + text[1:]


def _sentence(*parts: str) -> str:
    """Join non-empty parts with spaces."""
    return " ".join(p.strip() for p in parts if p and p.strip())


def _choice(type_name: str, spec: ChoiceSpec) -> Labels:
    """Options: each `option:<id>` check is named by the option's text."""
    single = type_name == "single_choice"
    checks = {}
    for o in spec.options:
        if single:
            verdict = "The right answer." if o.correct else "A wrong answer (fails when chosen)."
        else:
            verdict = "Should be ticked." if o.correct else "Should be left unticked."
        checks[f"option:{o.id}"] = CheckLabel(o.text, _sentence(verdict, o.feedback))
    return Labels(type_name, checks, {o.id: o.text for o in spec.options})


def _assignment(type_name: str, spec: AssignmentSpec) -> Labels:
    """Matching pairs and categorize items: named by the item's text, worded by where it belongs."""
    grader = REGISTRY.get(type_name)
    targets = {t.id: t for t in spec.targets}
    belongs = "Matches" if type_name == "matching" else "Belongs in"
    checks = {}
    for item in spec.items:
        target = targets.get(item.target)
        where = f"{belongs}: {target.text}." if target else ""
        checks[f"{grader.check_prefix}:{item.id}"] = CheckLabel(item.text, _sentence(where, item.feedback))
    texts = {i.id: i.text for i in spec.items} | {t.id: t.text for t in spec.targets}
    return Labels(type_name, checks, texts, keys=tuple(i.id for i in spec.items))


def _blank_context(spec: ClozeSpec, blank: Blank) -> str:
    """The words around a blank, as '...ask for their ___ so you have...' (an ellipsis only where text was cut)."""
    i = spec.parts.index(blank)

    def words(parts: tuple[str | Blank, ...]) -> list[str]:
        """The words of some parts of the text, other blanks shown as ___."""
        return " ".join("___" if isinstance(p, Blank) else p for p in parts).split()

    before, after = words(spec.parts[:i]), words(spec.parts[i + 1:])
    n = BLANK_CONTEXT_WORDS
    head = ("\u2026" if len(before) > n else "") + " ".join(before[-n:])
    tail = " ".join(after[:n]) + ("\u2026" if len(after) > n else "")
    return " ".join(p for p in (head, "___", tail) if p)


def _cloze(type_name: str, spec: ClozeSpec) -> Labels:
    """Blanks: named by their number and the words around them, worded by what they accept."""
    checks = {}
    for n, b in enumerate(spec.blanks, start=1):
        accepts = f"Accepts: {', '.join(b.accept)}" + (" (one typo allowed)." if b.typos else ".")
        checks[f"blank:{b.id}"] = CheckLabel(f"Blank {n}: {_blank_context(spec, b)}", _sentence(accepts, b.feedback))
    return Labels(type_name, checks, {}, blanks=spec.ids, keys=spec.ids)


def _ordering(type_name: str, spec: OrderingSpec) -> Labels:
    """Steps: the order check, each step that can come too early, each distractor, and the shape checks."""
    texts = {s.id: s.text for s in spec.items} | {d.id: d.text for d in spec.distractors}
    checks = {
        "order": CheckLabel("Order of the steps", "Every step placed comes after the steps it depends on."),
        "unchanged": CheckLabel("Order left as shown", "Sending the order the steps were shown in earns nothing."),
        "missing": CheckLabel("Steps left out", "Every step of the sequence belongs in the answer."),
        "distractors": CheckLabel("Steps that do not belong left out", "No distractor was placed."),
    }
    for s in spec.items:
        after = " and ".join(f"“{texts[d]}”" for d in s.after)
        where = f"Comes after {after}." if after else "Can come first."
        checks[f"order:{s.id}"] = CheckLabel(f"Too early: {s.text}", _sentence(where, s.feedback))
    for d in spec.distractors:
        checks[f"distractor:{d.id}"] = CheckLabel(f"Does not belong: {d.text}",
                                                 _sentence("Fails the exercise when placed.", d.feedback))
    return Labels(type_name, checks, texts)


def _text(type_name: str, spec: TextSpec) -> Labels:
    """Rubric checks: named by their `name` (or their id read as words), worded by their kind (graders/text/checks)."""
    checks = {}
    for c in spec.checks:
        name = c.name or ("Real sentences" if c.id == GUARD_ID else words_of(c.id))
        checks[c.id] = CheckLabel(name, c.wording())
    return Labels(type_name, checks)


_BUILDERS = {
    ChoiceSpec: _choice,
    AssignmentSpec: _assignment,
    ClozeSpec: _cloze,
    OrderingSpec: _ordering,
    TextSpec: _text,
}


def labels_for(type_name: str, compiled: Any) -> Labels:
    """Return one exercise's labels from its compiled spec; an unknown spec shape gets ids as names."""
    build = _BUILDERS.get(type(compiled))
    return build(type_name, compiled) if build else Labels(type_name)
