"""Free text: one textarea posted as `answer`, shown back with the words the checks picked up highlighted."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

import graders
from web.types.base import Draft, ExerciseType, FormStep, register


def highlight(text: str, checks: tuple[graders.Check, ...]) -> Markup:
    """Return the answer with triggering words in <mark>, every segment escaped.

    A highlight is "lost" when any check that picked those words failed (a forbidden phrase, a negated
    interest), otherwise "won"; the class colours it and a visually hidden label says it to screen readers.
    """
    spans = sorted({(max(0, s), min(len(text), e), c.passed) for c in checks for s, e in c.spans if 0 <= s < e})
    merged: list[list] = []  # [start, end, all_passed]
    for start, end, passed in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = merged[-1][2] and passed
        else:
            merged.append([start, end, passed])
    out = Markup()
    pos = 0
    for start, end, passed in merged:
        kind, label = ("won", "earned a point") if passed else ("lost", "cost a point")
        out += escape(text[pos:start])
        out += Markup('<mark class="hl-{}"><span class="visually-hidden">[{}: </span>{}'
                      '<span class="visually-hidden">]</span></mark>').format(kind, label, text[start:end])
        pos = end
    return out + escape(text[pos:])


@register
class Text(ExerciseType):
    """Write an answer in your own words (text.js adds a live word count)."""

    name = "text"
    empty_message = "Write your answer before sending."
    script = "text.js"

    def draft_from_form(self, view: dict[str, Any], form: MultiDict[str, str]) -> Draft:
        """Return what was typed."""
        return Draft(text=form.get("answer", ""))

    def answer_from_draft(self, draft: Draft) -> Any:
        """Return the text, or None when it is only white space."""
        return draft.text if draft.text.strip() else None

    def draft_from_answer(self, view: dict[str, Any], answer: Any) -> Draft:
        """Return the stored text as a draft."""
        return Draft(text=answer) if isinstance(answer, str) else self.initial_draft(view)

    def rename(self, answer: Any, names: dict[str, str]) -> Any:
        """Return the text unchanged: it holds no ids."""
        return answer

    def highlight(self, answer: Any, result: graders.Result) -> Markup | None:
        """Return the graded text (the result's, else as stored) with the checks' spans marked."""
        return highlight(result.answer_text or str(answer), result.checks)

    def form_steps(self, view: dict[str, Any], answer: Any) -> list[FormStep]:
        """Type the text into the answer field."""
        return [FormStep("fill", "Your answer", answer)]

    def expresses(self, answer: Any) -> bool:
        """Say whether `answer` is text as typed (a sample written as JSON, '"..."', is for the command line)."""
        return isinstance(answer, str) and not answer.lstrip().startswith(('"', "[", "{"))
