"""Cohort analytics as pure functions over plain rows: roster, item analysis and the SVG histogram.

Nothing here touches Flask or the database: the views fetch rows, these functions compute, the templates
render. That keeps the maths testable with hand-built rows and lets the same code serve the CSV export.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from markupsafe import Markup, escape

# Below this many learners an item statistic says more about one person than about the item.
MIN_LEARNERS_FOR_STATS = 3
# The same rubric check failed this many attempts in a row means the learner is stuck on it.
REPEAT_FAIL_STREAK = 3
DEFAULT_STALL_DAYS = 7
SAMPLE_ANSWER_CHARS = 200
SAMPLES_PER_CHECK = 3
TOP_FAILED_CHECKS = 5
HISTOGRAM_BINS = 10


@dataclass(frozen=True)
class CompletionRule:
    """The course's completion rule (course.yaml `completion`): how many lessons read and exercises passed."""

    lessons: int
    exercises: int

    def met(self, lessons_read: int, exercises_passed: int) -> bool:
        """Return True when both counts reach the rule."""
        return lessons_read >= self.lessons and exercises_passed >= self.exercises


def completion_rule(course: Any) -> CompletionRule:
    """Read a course's completion rule; `all` (the default) means every lesson / every exercise."""
    rule = course.completion or {}

    def need(key: str, total: int) -> int:
        """Turn 'all' or a number into a count."""
        value = rule.get(key, "all")
        return total if value == "all" else int(value)

    return CompletionRule(need("lessons", len(course.lesson_order())), need("exercises", len(course.exercise_order())))


@dataclass(frozen=True)
class OutlineModule:
    """One module as the analytics see it: its lessons and exercises."""

    id: str
    title: str
    lessons: tuple[str, ...]
    exercises: tuple[str, ...]


@dataclass(frozen=True)
class Outline:
    """The course structure the analytics need, detached from the loader's objects."""

    modules: tuple[OutlineModule, ...]
    exercise_titles: Mapping[str, str] = field(default_factory=dict)
    rule: CompletionRule | None = None  # None: every lesson read and every exercise passed

    # Cached: a roster of 10,000 learners asked for them once per learner.
    @cached_property
    def exercises(self) -> list[str]:
        """Return every exercise id in course order."""
        return [e for m in self.modules for e in m.exercises]

    @cached_property
    def lessons(self) -> list[str]:
        """Return every lesson id in reading order."""
        return [lid for m in self.modules for lid in m.lessons]


def outline_of(course: Any) -> Outline:
    """Build an Outline from a loaded course.model.Course."""
    modules = tuple(
        OutlineModule(
            id=m.id,
            title=m.title,
            lessons=tuple(m.lessons),
            exercises=tuple(e for lid in m.lessons for e in course.lessons[lid].exercises),
        )
        for m in course.modules
    )
    titles = {eid: ex.title for eid, ex in course.exercises.items()}
    return Outline(modules=modules, exercise_titles=titles, rule=completion_rule(course))


@dataclass(frozen=True)
class LearnerRow:
    """A cohort member: who they are and when they joined."""

    user_id: int
    name: str
    email: str
    joined_at: datetime | None = None


@dataclass(frozen=True)
class AttemptRow:
    """One stored attempt, reduced to what analytics read."""

    user_id: int
    exercise_id: str
    score: float
    passed: bool
    status: str
    checks: Sequence[Mapping[str, Any]]
    created_at: datetime
    attempt_number: int = 0
    answer: str = ""
    id: int = 0

    @property
    def counts(self) -> bool:
        """An invalid answer never counts as an attempt, so it never enters a statistic."""
        return self.status != "invalid"


@dataclass(frozen=True)
class ReadRow:
    """A lesson a learner has opened, with the last time they read it."""

    user_id: int
    lesson_id: str
    last_read_at: datetime


def _attempt_key(a: AttemptRow) -> tuple:
    """Sort attempts oldest first; attempt_number breaks ties within one timestamp."""
    return (a.created_at, a.attempt_number, a.id)


# ---------------------------------------------------------------------------------------------- roster


@dataclass(frozen=True)
class RosterEntry:
    """One learner's line on the roster."""

    user_id: int
    name: str
    email: str
    module_completion: Mapping[str, float]  # module id -> 0..1
    completion: float  # 0..1 over every lesson read and exercise passed
    exercises_passed: int
    exercises_total: int
    complete: bool
    last_activity: datetime | None
    attention: tuple[str, ...]  # human-readable reasons; empty when all is well
    # exercise id -> check ids failed REPEAT_FAIL_STREAK+ times in a row (ids, for a labelling layer to name)
    stuck: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def needs_attention(self) -> bool:
        """True when any attention rule fired."""
        return bool(self.attention)


def repeated_failures(attempts: Iterable[AttemptRow], streak: int = REPEAT_FAIL_STREAK) -> dict[str, list[str]]:
    """Return {exercise_id: [check ids]} failed on the latest `streak` or more counted attempts in a row.

    Only exercises not yet passed count: a learner who got there in the end is no longer stuck.
    """
    by_exercise: dict[str, list[AttemptRow]] = defaultdict(list)
    for a in attempts:
        if a.counts:
            by_exercise[a.exercise_id].append(a)
    stuck: dict[str, list[str]] = {}
    for eid, rows in by_exercise.items():
        rows.sort(key=_attempt_key)
        if any(r.passed for r in rows):
            continue
        runs: dict[str, int] = {}
        for r in rows:
            failed = {str(c.get("id")) for c in r.checks if not c.get("passed")}
            # A check that passed, or was absent, on this attempt breaks its run.
            runs = {cid: runs.get(cid, 0) + 1 for cid in failed}
        hits = sorted(cid for cid, n in runs.items() if n >= streak)
        if hits:
            stuck[eid] = hits
    return stuck


def stuck_reason(title: str, checks: Sequence[str]) -> str:
    """The attention note for checks failed again and again on one exercise (check ids or names)."""
    return f"failed check {', '.join(checks)} {REPEAT_FAIL_STREAK}+ times in a row on “{title}”"


def roster(
    outline: Outline,
    learners: Iterable[LearnerRow],
    attempts: Iterable[AttemptRow],
    reads: Iterable[ReadRow],
    now: datetime,
    stall_days: int = DEFAULT_STALL_DAYS,
) -> list[RosterEntry]:
    """Compute every learner's roster line from their attempts and reads (the reference the summaries must match)."""
    attempts_by_user: dict[int, list[AttemptRow]] = defaultdict(list)
    for a in attempts:
        attempts_by_user[a.user_id].append(a)
    reads_by_user: dict[int, list[ReadRow]] = defaultdict(list)
    for r in reads:
        reads_by_user[r.user_id].append(r)
    out = []
    for learner in learners:
        mine = attempts_by_user.get(learner.user_id, [])
        read = reads_by_user.get(learner.user_id, [])
        passed = {a.exercise_id for a in mine if a.passed}
        read_ids = {r.lesson_id for r in read}
        counts = LearnerCounts(
            user_id=learner.user_id,
            read={m.id: len(read_ids.intersection(m.lessons)) for m in outline.modules},
            passed={m.id: len(passed.intersection(m.exercises)) for m in outline.modules},
            last_activity=max([a.created_at for a in mine] + [r.last_read_at for r in read], default=None),
            stuck=repeated_failures(mine),
        )
        out.append(roster_entry(outline, learner, counts, now, stall_days))
    return out


@dataclass(frozen=True)
class LearnerCounts:
    """What the roster needs of one learner, per module: lessons read and exercises passed, and when and where stuck."""

    user_id: int
    read: Mapping[str, int] = field(default_factory=dict)  # module id -> lessons of it read
    passed: Mapping[str, int] = field(default_factory=dict)  # module id -> exercises of it passed
    last_activity: datetime | None = None
    stuck: Mapping[str, Sequence[str]] = field(default_factory=dict)  # exercise id -> checks failed in a row


def roster_from_counts(
    outline: Outline,
    learners: Iterable[LearnerRow],
    counts: Mapping[int, LearnerCounts],
    now: datetime,
    stall_days: int = DEFAULT_STALL_DAYS,
) -> list[RosterEntry]:
    """Compute every learner's roster line from per-learner counts (read from the exercise summaries)."""
    return [roster_entry(outline, learner, counts.get(learner.user_id) or LearnerCounts(learner.user_id), now,
                         stall_days) for learner in learners]


def roster_entry(outline: Outline, learner: LearnerRow, counts: LearnerCounts, now: datetime,
                 stall_days: int = DEFAULT_STALL_DAYS) -> RosterEntry:
    """Compute one roster line: completion per module, passes, last activity, attention flags."""
    per_module = {}
    done_units = total_units = n_read = n_passed = 0
    for m in outline.modules:
        units = len(m.lessons) + len(m.exercises)
        read, passed = counts.read.get(m.id, 0), counts.passed.get(m.id, 0)
        per_module[m.id] = (read + passed) / units if units else 1.0
        done_units += read + passed
        total_units += units
        n_read += read
        n_passed += passed
    completion = done_units / total_units if total_units else 1.0
    complete = outline.rule.met(n_read, n_passed) if outline.rule else done_units == total_units
    last = counts.last_activity
    reasons = []
    # Someone who joined and never started is as stalled as someone who stopped.
    since = last or learner.joined_at
    if not complete and since is not None and now - since > timedelta(days=stall_days):
        reasons.append(f"no activity for more than {stall_days} days")
    for eid, checks in sorted(counts.stuck.items()):
        reasons.append(stuck_reason(outline.exercise_titles.get(eid, eid), checks))
    return RosterEntry(
        user_id=learner.user_id,
        name=learner.name,
        email=learner.email,
        module_completion=per_module,
        completion=completion,
        exercises_passed=n_passed,
        exercises_total=len(outline.exercises),
        complete=complete,
        last_activity=last,
        attention=tuple(reasons),
        stuck={eid: tuple(checks) for eid, checks in counts.stuck.items()},
    )


ROSTER_SORTS = ("name", "completion", "passed", "last_activity")
NEVER = datetime.min.replace(tzinfo=UTC)


def sort_and_filter(
    entries: Sequence[RosterEntry], sort: str = "name", order: str = "asc", attention_only: bool = False, q: str = ""
) -> list[RosterEntry]:
    """Apply the roster's GET parameters; unknown sort keys fall back to name, never to an error page.

    The roster page sorts and filters in SQL (web.services.cohort_stats.roster); this is the reference it must equal.
    """
    needle = q.strip().casefold()
    rows = [
        e for e in entries
        if (not attention_only or e.needs_attention)
        and (not needle or needle in e.name.casefold() or needle in e.email.casefold())
    ]
    keys = {
        "name": lambda e: (e.name.casefold(), e.email.casefold()),
        "completion": lambda e: (e.completion, e.name.casefold()),
        "passed": lambda e: (e.exercises_passed, e.name.casefold()),
        # Never-active learners sort as the oldest activity.
        "last_activity": lambda e: (e.last_activity or NEVER, e.name.casefold()),
    }
    rows.sort(key=keys.get(sort, keys["name"]), reverse=(order == "desc"))
    return rows


# ------------------------------------------------------------------------------------------ item analysis


@dataclass(frozen=True)
class FailedCheck:
    """A rubric check the cohort fails, with how often and a few anonymised answers that failed it."""

    id: str
    message: str
    failed: int
    graded: int
    samples: tuple[str, ...]

    @property
    def share(self) -> float:
        """Fraction of the attempts that ran this check and failed it."""
        return self.failed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class ItemStats:
    """One exercise's statistics within a cohort."""

    exercise_id: str
    title: str
    attempts: int
    learners: int
    passed_learners: int
    mean_first_score: float | None
    facility: float | None  # percent, None = n/a (too few learners)
    discrimination: float | None  # -1..1, None = n/a
    failed_checks: tuple[FailedCheck, ...]
    first_scores: tuple[float, ...]

    @property
    def pass_rate(self) -> float | None:
        """Share of learners who tried the exercise and have passed it."""
        return self.passed_learners / self.learners if self.learners else None


def truncate(text: str, limit: int = SAMPLE_ANSWER_CHARS) -> str:
    """Shorten a learner answer for display, marking the cut with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def discrimination_index(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Moodle's classic discrimination index over (item score, total course score) pairs, scores 0..1.

    Learners are ranked by total score; DI = mean item score of the top third - mean item score of the bottom
    third. Returns None (shown as n/a) when fewer than MIN_LEARNERS_FOR_STATS learners took the item.
    """
    n = len(pairs)
    if n < MIN_LEARNERS_FOR_STATS:
        return None
    ranked = sorted(pairs, key=lambda p: p[1], reverse=True)
    k = n // 3
    top = ranked[:k]
    bottom = ranked[-k:]
    return sum(p[0] for p in top) / k - sum(p[0] for p in bottom) / k


def total_scores(attempts: Iterable[AttemptRow]) -> dict[int, float]:
    """Return each learner's total course score: the sum of their best score on every exercise."""
    best: dict[tuple[int, str], float] = {}
    for a in attempts:
        if a.counts:
            key = (a.user_id, a.exercise_id)
            best[key] = max(best.get(key, 0.0), a.score)
    totals: dict[int, float] = defaultdict(float)
    for (uid, _eid), score in best.items():
        totals[uid] += score
    return dict(totals)


def item_analysis(outline: Outline, attempts: Iterable[AttemptRow]) -> list[ItemStats]:
    """Compute attempts, pass rate, first-attempt mean, facility, discrimination and failed checks per exercise."""
    rows = sorted((a for a in attempts if a.counts), key=_attempt_key)
    totals = total_scores(rows)
    by_exercise: dict[str, list[AttemptRow]] = defaultdict(list)
    for a in rows:
        by_exercise[a.exercise_id].append(a)
    out = []
    for eid in outline.exercises:
        ex_rows = by_exercise.get(eid, [])
        first: dict[int, float] = {}
        passed_users = set()
        for a in ex_rows:
            first.setdefault(a.user_id, a.score)
            if a.passed:
                passed_users.add(a.user_id)
        n = len(first)
        mean_first = sum(first.values()) / n if n else None
        facility = mean_first * 100 if n >= MIN_LEARNERS_FOR_STATS else None
        di = discrimination_index([(score, totals.get(uid, 0.0)) for uid, score in first.items()])
        out.append(ItemStats(
            exercise_id=eid,
            title=outline.exercise_titles.get(eid, eid),
            attempts=len(ex_rows),
            learners=n,
            passed_learners=len(passed_users),
            mean_first_score=mean_first,
            facility=facility,
            discrimination=di,
            failed_checks=failed_checks(ex_rows),
            first_scores=tuple(first.values()),
        ))
    return out


def failed_checks(attempts: Sequence[AttemptRow], top: int = TOP_FAILED_CHECKS) -> tuple[FailedCheck, ...]:
    """Rank the rubric checks by how many attempts failed them; keep a few recent, distinct, truncated answers."""
    graded: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    message: dict[str, str] = {}
    samples: dict[str, list[str]] = defaultdict(list)
    for a in sorted(attempts, key=_attempt_key, reverse=True):
        for c in a.checks:
            cid = str(c.get("id"))
            graded[cid] += 1
            if c.get("passed"):
                continue
            failed[cid] += 1
            message.setdefault(cid, str(c.get("message", "")))
            text = truncate(a.answer)
            if text and text not in samples[cid] and len(samples[cid]) < SAMPLES_PER_CHECK:
                samples[cid].append(text)
    ranked = sorted(failed, key=lambda cid: (-failed[cid], cid))[:top]
    return tuple(
        FailedCheck(id=cid, message=message[cid], failed=failed[cid], graded=graded[cid], samples=tuple(samples[cid]))
        for cid in ranked
    )


@dataclass(frozen=True)
class ItemAggregate:
    """One exercise's sums over the cohort's summaries (one per learner who tried it), as SQL returns them."""

    exercise_id: str
    attempts: int
    learners: int
    passed_learners: int
    first_score_sum: float
    # First-attempt scores summed over the top and the bottom third of those learners by total course score.
    top_third_sum: float = 0.0
    bottom_third_sum: float = 0.0


def item_stats(outline: Outline, aggregates: Mapping[str, ItemAggregate],
               checks: Mapping[str, tuple[FailedCheck, ...]] | None = None,
               first_scores: Mapping[str, Sequence[float]] | None = None) -> list[ItemStats]:
    """Compute item_analysis's statistics from per-exercise aggregates, in course order."""
    out = []
    for eid in outline.exercises:
        agg = aggregates.get(eid) or ItemAggregate(eid, 0, 0, 0, 0.0)
        n = agg.learners
        mean_first = agg.first_score_sum / n if n else None
        k = n // 3
        out.append(ItemStats(
            exercise_id=eid,
            title=outline.exercise_titles.get(eid, eid),
            attempts=agg.attempts,
            learners=n,
            passed_learners=agg.passed_learners,
            mean_first_score=mean_first,
            facility=mean_first * 100 if n >= MIN_LEARNERS_FOR_STATS else None,
            discrimination=(agg.top_third_sum - agg.bottom_third_sum) / k if n >= MIN_LEARNERS_FOR_STATS else None,
            failed_checks=(checks or {}).get(eid, ()),
            first_scores=tuple((first_scores or {}).get(eid, ())),
        ))
    return out


def latest_failed_checks(groups: Iterable[tuple[Sequence[str], Sequence[str], int]],
                         messages: Mapping[str, str] | None = None,
                         samples: Mapping[str, Sequence[str]] | None = None,
                         top: int = TOP_FAILED_CHECKS) -> tuple[FailedCheck, ...]:
    """Rank checks by how many learners' latest attempts failed them, from (checks run, checks failed, learners).

    `graded` is then the number of learners whose latest attempt ran the check; each learner counts once,
    however many times they tried.
    """
    graded: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for ran, lost, n in groups:
        for cid in ran:
            graded[cid] += n
        for cid in lost:
            failed[cid] += n
    ranked = sorted((cid for cid in failed if failed[cid]), key=lambda cid: (-failed[cid], cid))[:top]
    return tuple(
        FailedCheck(id=cid, message=(messages or {}).get(cid, ""), failed=failed[cid], graded=max(graded[cid],
                    failed[cid]), samples=tuple((samples or {}).get(cid, ())))
        for cid in ranked
    )


# ---------------------------------------------------------------------------------------------- histogram


def histogram(scores: Iterable[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Count scores (0..1) into equal bins; a perfect 1.0 lands in the last bin, out-of-range values are clamped."""
    counts = [0] * bins
    for s in scores:
        i = int(min(max(float(s), 0.0), 1.0) * bins)
        counts[min(i, bins - 1)] += 1
    return counts


def bin_label(i: int, bins: int = HISTOGRAM_BINS) -> str:
    """Return the human label of bin i, e.g. '90-100%'."""
    step = 100 // bins
    return f"{i * step}-{(i + 1) * step}%"


def histogram_svg(counts: Sequence[int], title: str, chart_id: str, width: int = 320, height: int = 140) -> Markup:
    """Render a histogram as accessible, CSP-safe inline SVG: role=img, <title>/<desc>, presentation attributes only.

    Screen-reader users get the same numbers from the visually hidden table the template puts next to it.
    """
    total = sum(counts)
    peak = max(counts) if counts and max(counts) else 1
    bins = len(counts)
    pad_x, pad_bottom, pad_top = 4, 18, 12
    bar_w = (width - 2 * pad_x) / bins
    plot_h = height - pad_bottom - pad_top
    if total:
        mode = max(range(bins), key=lambda i: counts[i])
        desc = (f"{total} scores in {bins} bins of 10 percentage points. Most scores ({counts[mode]}) fall in "
                f"{bin_label(mode, bins)}. " + "; ".join(f"{bin_label(i, bins)}: {c}" for i, c in enumerate(counts)))
    else:
        desc = "No scores yet."
    parts = [
        f'<svg class="histogram" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<line x1="{pad_x}" y1="{height - pad_bottom}" x2="{width - pad_x}" y2="{height - pad_bottom}" '
        f'stroke="currentColor" stroke-width="1"/>',
    ]
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = pad_x + i * bar_w
        y = height - pad_bottom - h
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                     f'fill="currentColor"/>')
        if c:
            parts.append(f'<text x="{x + bar_w / 2 - 1:.1f}" y="{y - 2:.1f}" font-size="10" '
                         f'text-anchor="middle" fill="currentColor">{c}</text>')
    for i in (0, bins // 2, bins):
        parts.append(f'<text x="{min(max(pad_x + i * bar_w, 8), width - 14):.1f}" y="{height - 4}" font-size="10" '
                     f'text-anchor="middle" fill="currentColor">{i * 100 // bins}%</text>')
    parts.append("</svg>")
    # Safe: every learner- or author-supplied string above went through escape(); the rest is numbers.
    return Markup("".join(parts))  # noqa: S704
