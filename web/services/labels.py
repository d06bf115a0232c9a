"""Instructor pages in words: a layer over the analytics results that turns check and answer ids into their texts.

The analytics (and anything that replaces their queries) speak ids; these functions take those results and the
course's labels (built once per exercise by graders.labels_for) and hand back what the templates show. Long texts
are shortened with the full text kept for hover, keyboard focus and screen readers (`clip`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup, escape

import graders
from graders.labels import CheckLabel, Labels
from web.services import analytics

# A name longer than this is shown shortened; the full text is one hover or Tab away.
CLIP_CHARS = 60


def course_labels(course: Any) -> dict[str, Labels]:
    """Build every exercise's labels from its compiled spec (once per loaded course)."""
    return {eid: graders.labels_for(ex.type, ex.spec) for eid, ex in course.exercises.items()}


def labels_of(catalogue: Mapping[str, Labels], exercise_id: str) -> Labels:
    """Return one exercise's labels; an exercise no longer in the course gets ids as names."""
    return catalogue.get(exercise_id) or Labels("")


def shorten(text: str, limit: int = CLIP_CHARS) -> str:
    """Cut a text to at most `limit` characters at a word boundary, marking the cut with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "\u2026"


def clip(text: str, limit: int = CLIP_CHARS) -> Markup:
    """Show a long text shortened; hovering or focusing it (Tab) shows all of it, and screen readers read it all."""
    full = " ".join(str(text).split())
    short = shorten(full, limit)
    if short == full:
        return escape(full)
    # No JavaScript: site.css swaps the short text for the full one on :hover and :focus; the full text is always
    # in the accessibility tree (visually hidden), the short one never is.
    return Markup('<span class="clip" tabindex="0"><span class="clip-short" aria-hidden="true">{}</span>'
                  '<span class="clip-full">{}</span></span>').format(short, full)


@dataclass(frozen=True)
class NamedCheck:
    """A failed-check statistic with its check's name and own wording."""

    id: str
    label: CheckLabel
    failed: int
    graded: int
    share: float


def named_checks(stat: analytics.ItemStats, labels: Labels) -> list[NamedCheck]:
    """Name an exercise's most-failed checks (ids in, labels out), keeping their counts."""
    return [NamedCheck(f.id, labels.check(f.id), f.failed, f.graded, f.share) for f in stat.failed_checks]


@dataclass(frozen=True)
class SampleAnswer:
    """One anonymised answer shown once, with the names of the most-failed checks it failed."""

    text: str
    failed: tuple[str, ...]


def sample_answers(stat: analytics.ItemStats, labels: Labels) -> list[SampleAnswer]:
    """Each sample answer once (an answer failing three checks used to be shown three times), in check order."""
    seen: dict[str, list[str]] = {}
    for f in stat.failed_checks:
        for text in f.samples:
            seen.setdefault(text, []).append(labels.check(f.id).name)
    return [SampleAnswer(text, tuple(names)) for text, names in seen.items()]


def attention_notes(entry: analytics.RosterEntry, outline: analytics.Outline,
                    catalogue: Mapping[str, Labels]) -> tuple[str | Markup, ...]:
    """The roster's attention notes with check ids replaced by the checks' names (other notes as they are)."""
    named: dict[str, Markup] = {}
    for eid, checks in entry.stuck.items():
        title = outline.exercise_titles.get(eid, eid)
        names = Markup(", ").join(clip(labels_of(catalogue, eid).check(c).name) for c in checks)
        # The note's own words, escaped, with the (already escaped) names put where the ids were.
        named[analytics.stuck_reason(title, checks)] = escape(analytics.stuck_reason(title, ["\0"])).replace(
            "\0", names)
    return tuple(named.get(note, note) for note in entry.attention)


def with_named_attention(entries: Iterable[analytics.RosterEntry], outline: analytics.Outline,
                         catalogue: Mapping[str, Labels]) -> list[analytics.RosterEntry]:
    """Roster entries whose attention notes name checks instead of giving their ids."""
    return [replace(e, attention=attention_notes(e, outline, catalogue)) if e.stuck else e for e in entries]


@dataclass(frozen=True)
class NamedResult:
    """One check of one attempt, named, with the feedback that learner was given."""

    label: CheckLabel
    passed: bool
    required: bool
    message: str


def named_results(checks: Sequence[Mapping[str, Any]], labels: Labels) -> list[NamedResult]:
    """An attempt's stored checks (JSON shape) with their names."""
    return [NamedResult(labels.check(str(c.get("id"))), bool(c.get("passed")), bool(c.get("required")),
                        str(c.get("message", ""))) for c in checks]
