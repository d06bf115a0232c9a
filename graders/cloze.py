"""`cloze` grader: fill in the blanks of a Markdown text.

Spec shape:

    text: |
      Before you leave, ask for the interviewer's {{card}} so you can send a {{note}}.
    blanks:
      - id: card
        accept: ["business card", "card", "contact details"]
        typos: 1               # optional: allow one typo (Damerau-Levenshtein <= 1) for answers over 4 chars
        feedback: "Shown when this blank is wrong"

Every `{{id}}` in the text needs exactly one entry in `blanks` and vice versa. Matching ignores case,
surrounding punctuation and runs of whitespace, after Unicode normalisation.
Answer: `{blank_id: text}`. A blank left empty is wrong; an answer with every blank empty is invalid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from graders.base import Check, Context, Grader, InvalidAnswer, Result, SpecIssue, normalise_text, register
from graders.schema import SpecId, SpecModel, Text, compile_model, listed, unique_ids
from graders.structured import check_id, decode_json, finish

BLANK = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\s*\}\}")
# Only answers longer than this may use typo tolerance: "card" vs "cart" must stay different.
TYPO_MIN_CHARS = 4
# A single blank never needs more than this; longer text is refused as a malformed answer.
MAX_BLANK_CHARS = 200


@dataclass(frozen=True)
class Blank:
    """One blank: its accepted (normalised) answers, typo allowance and feedback."""

    id: str
    accept: tuple[str, ...]
    typos: int
    feedback: str


@dataclass(frozen=True)
class ClozeSpec:
    """A compiled cloze spec: the text split into literal parts and blank ids."""

    text: str
    parts: tuple[str | Blank, ...]
    blanks: tuple[Blank, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """Blank ids in text order."""
        return tuple(b.id for b in self.blanks)


def fold(text: str) -> str:
    """Normalise an answer for comparison: Unicode, case, whitespace runs and surrounding punctuation."""
    text = normalise_text(text).casefold()
    text = " ".join(text.split())
    return text.strip(" .,;:!?\"'()")


def within_one_edit(a: str, b: str) -> bool:
    """Return True when the optimal-string-alignment (Damerau-Levenshtein) distance of a and b is at most 1."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    # Skip the common prefix; what is left must be one substitution, insertion, deletion or swap.
    i = 0
    while i < la and i < lb and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True  # one substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    if la > lb:
        return a[i + 1:] == b[i:]  # one deletion from a
    return a[i:] == b[i + 1:]  # one insertion into a


class BlankModel(SpecModel):
    """One entry of `blanks` as written."""

    id: SpecId
    accept: list[Text] = Field(json_schema_extra={"minItems": 1})
    typos: Literal[0, 1] = 0
    feedback: str = ""


class ClozeModel(SpecModel):
    """The `spec:` of a cloze exercise."""

    text: str
    blanks: list[BlankModel]

    def problems(self, path: str) -> list[SpecIssue]:
        """Blank ids unique, each accepted answer non-empty once folded, and text and blanks naming each other once."""
        issues: list[SpecIssue] = []
        blanks = listed(self.blanks)
        unique_ids([(f"{path}.blanks[{i}].id", b.id) for i, b in blanks if b.id], issues)
        for i, b in blanks:
            where = f"{path}.blanks[{i}].accept"
            if b.accept == []:
                issues.append(SpecIssue(where, "needs at least one accepted answer"))
            for k, original in enumerate(b.accept or ()):
                if not fold(original):
                    issues.append(SpecIssue(f"{where}[{k}]", f"{original!r} is empty once normalised"))
        ids = {b.id for _, b in blanks if b.id}
        in_text = BLANK.findall(self.text or "")
        seen: set[str] = set()
        for ident in in_text:
            if ident in seen:
                issues.append(SpecIssue(f"{path}.text", f"blank {{{{{ident}}}}} appears more than once"))
            seen.add(ident)
            if ident not in ids:
                issues.append(SpecIssue(f"{path}.text", f"blank {{{{{ident}}}}} has no entry in spec.blanks"))
        for ident in dict.fromkeys(b.id for _, b in blanks if b.id):
            if ident not in seen:
                issues.append(SpecIssue(f"{path}.blanks", f"blank {ident!r} does not appear in spec.text "
                                                          f"(write it as {{{{{ident}}}}})"))
        if self.text and not in_text:
            issues.append(SpecIssue(f"{path}.text", "has no blanks; write them as {{blank-id}}"))
        return issues


@register
class ClozeGrader(Grader):
    """Fill-in-the-blanks, one check per blank."""

    type_name = "cloze"
    version = "1"
    spec_model = ClozeModel

    def compile(self, spec: Mapping[str, Any]) -> ClozeSpec:
        """Validate the text and blanks, and that they name each other exactly once."""
        model = compile_model(ClozeModel, spec)
        # Duplicates after folding ("Card" and "card") are harmless; keep the first of each.
        blanks = {b.id: Blank(id=b.id, accept=tuple(dict.fromkeys(fold(a) for a in b.accept)), typos=b.typos,
                              feedback=b.feedback) for b in model.blanks}
        text = model.text
        parts: list[str | Blank] = []
        pos = 0
        for m in BLANK.finditer(text):
            parts.append(text[pos:m.start()])
            parts.append(blanks[m.group(1)])
            pos = m.end()
        parts.append(text[pos:])
        ordered = tuple(p for p in parts if isinstance(p, Blank))
        return ClozeSpec(text=text, parts=tuple(parts), blanks=ordered)

    def parse(self, compiled: ClozeSpec, raw: Any) -> dict[str, str]:
        """Accept `{blank_id: text}` (or its JSON string) naming every blank; refuse unknown blanks."""
        data = decode_json(raw)
        if not isinstance(data, Mapping):
            raise InvalidAnswer("The answer must give the text for each blank, as {blank_id: text}.")
        out: dict[str, str] = {}
        for key, value in data.items():
            ident = check_id(key, "A blank id")
            if ident not in compiled.ids:
                raise InvalidAnswer(f"Unknown blank {ident!r}; blanks are: {', '.join(compiled.ids)}.")
            if ident in out:
                raise InvalidAnswer(f"Blank {ident!r} is filled twice.")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise InvalidAnswer(f"The text for blank {ident!r} must be text.")
            if len(value) > MAX_BLANK_CHARS:
                raise InvalidAnswer(f"The text for blank {ident!r} is longer than {MAX_BLANK_CHARS} characters.")
            out[ident] = value
        missing = [b for b in compiled.ids if b not in out]
        if missing:
            raise InvalidAnswer(f"Every blank needs an answer; missing: {', '.join(missing)}.")
        if not any(v.strip() for v in out.values()):
            raise InvalidAnswer("Every blank is empty.")
        return out

    def grade(self, compiled: ClozeSpec, answer: dict[str, str], ctx: Context) -> Result:
        """One check per blank; score = share of blanks filled acceptably."""
        checks = []
        for n, blank in enumerate(compiled.blanks, start=1):
            got = fold(answer[blank.id])
            ok = bool(got) and self.accepts(blank, got)
            shown = answer[blank.id].strip()
            if ok:
                message = f"Blank {n} ({shown!r}): right."
            elif not got:
                message = f"Blank {n} is empty. {blank.feedback}".strip()
            else:
                message = f"Blank {n} ({shown!r}): not what we were looking for. {blank.feedback}".strip()
            checks.append(Check(id=f"blank:{blank.id}", passed=ok, weight=1.0, message=message,
                                earned=1.0 if ok else 0.0))
        score = sum(1 for c in checks if c.passed) / len(checks)
        return finish(score, checks, ctx, self.version)

    @staticmethod
    def accepts(blank: Blank, got: str) -> bool:
        """Return True when a folded answer equals an accepted one, or is one typo away if allowed."""
        if got in blank.accept:
            return True
        if blank.typos and len(got) > TYPO_MIN_CHARS:
            return any(len(a) > TYPO_MIN_CHARS and within_one_edit(got, a) for a in blank.accept)
        return False

    def present(self, compiled: ClozeSpec, seed: int) -> dict[str, Any]:
        """The text as literal segments and blank placeholders; never the accepted answers."""
        segments: list[dict[str, str]] = []
        for part in compiled.parts:
            if isinstance(part, Blank):
                segments.append({"blank": part.id})
            elif part:
                segments.append({"text": part})
        return {"type": self.type_name, "segments": segments, "blanks": list(compiled.ids)}

    def answer_key(self, compiled: ClozeSpec) -> dict[str, Any]:
        """Every blank's accepted answers, typo allowance and feedback."""
        return {
            "text": compiled.text,
            "blanks": [{"id": b.id, "accept": list(b.accept), "typos": b.typos, "feedback": b.feedback}
                       for b in compiled.blanks],
        }
