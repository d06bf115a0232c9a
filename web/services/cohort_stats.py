"""The instructor pages' figures, read from the exercise summaries with a few aggregate queries per page.

A cohort of 10,000 learners has some 170,000 attempts; these queries read one summary row per learner and
exercise (web.services.summaries keeps them), let the database do the sums, and hand analytics plain
aggregates. Nothing here reads an attempt except the few sample answers on one exercise's page.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, literal_column, or_, select, true

from web.extensions import Page, casefold, db, page_count
from web.models import (
    Attempt,
    Cohort,
    CohortMembership,
    ExerciseSummary,
    LearnerTotal,
    LessonProgress,
    User,
    UTCDateTime,
)
from web.services import analytics
from web.services.analytics import FailedCheck, ItemAggregate, LearnerCounts, LearnerRow, Outline, RosterEntry
from web.services.cohorts import answer_text

S = ExerciseSummary
# How many of the latest failing answers are read to find SAMPLES_PER_CHECK distinct ones.
SAMPLE_ROWS = 25
# Learners per roster page: 10,000 rows were a multi-megabyte page that browsers and screen readers choke on.
ROSTER_PAGE_SIZE = 100


def _members(cohort: Cohort):
    """Return a subquery of the cohort's member ids."""
    return select(CohortMembership.user_id).where(CohortMembership.cohort_id == cohort.id)


def _count_in(column: Any, ids: tuple[str, ...], also: Any = None) -> Any:
    """SUM of rows whose column is one of ids (and `also` holds): a per-module count in one pass."""
    if not ids:
        return func.sum(0)
    cond = column.in_(ids) if also is None else and_(column.in_(ids), also)
    return func.sum(case((cond, 1), else_=0))


def roster_counts(cohort: Cohort, outline: Outline,
                  user_ids: Sequence[int] | None = None) -> dict[int, LearnerCounts]:
    """Return the LearnerCounts of every member (or of these members): per-module reads and passes, last activity,
    stuck checks."""
    modules = outline.modules
    members = _members(cohort) if user_ids is None else list(user_ids)
    passed = db.session.execute(
        select(S.user_id, func.max(S.last_at), *[_count_in(S.exercise_id, m.exercises, S.passed.is_(True))
                                                  for m in modules])
        .where(S.user_id.in_(members)).group_by(S.user_id)
    )
    found: dict[int, dict[str, Any]] = defaultdict(lambda: {"read": {}, "passed": {}, "last": [], "stuck": {}})
    for uid, last, *per_module in passed:
        found[uid]["passed"] = {m.id: int(n or 0) for m, n in zip(modules, per_module, strict=True)}
        found[uid]["last"].append(last)
    reads = db.session.execute(
        select(LessonProgress.user_id, func.max(LessonProgress.last_read_at),
               *[_count_in(LessonProgress.lesson_id, m.lessons) for m in modules])
        .where(LessonProgress.user_id.in_(members)).group_by(LessonProgress.user_id)
    )
    for uid, last, *per_module in reads:
        found[uid]["read"] = {m.id: int(n or 0) for m, n in zip(modules, per_module, strict=True)}
        found[uid]["last"].append(last)
    stuck = db.session.execute(
        select(S.user_id, S.exercise_id, S.stuck).where(S.user_id.in_(members), S.stuck.is_not(None)))
    for uid, eid, checks in stuck:
        found[uid]["stuck"][eid] = json.loads(checks)
    return {
        uid: LearnerCounts(uid, read=f["read"], passed=f["passed"],
                           last_activity=max((t for t in f["last"] if t is not None), default=None), stuck=f["stuck"])
        for uid, f in found.items()
    }


@dataclass(frozen=True)
class Roster:
    """One page of a cohort's roster, and the counts its heading gives."""

    lines: Page[RosterEntry]  # the page's learners; lines.total is how many match the filters
    members: int
    flagged: int  # members needing attention, whatever the filters


def _roster_lines(cohort: Cohort, outline: Outline, now: datetime, stall_days: int):
    """Return a subquery of one row per member with what the roster sorts and filters on.

    Each value is the one analytics.roster_entry computes from roster_counts (tests/test_cohorts.py compares them):
    lessons read and exercises passed within the course outline, last activity, and whether the learner needs
    attention (not complete and inactive for `stall_days`, or stuck on a check).
    """
    # Joined from the cohort's memberships (in user id order, as the summaries' primary key is), not filtered by
    # `user_id IN (members)`: SQLite then walks both indexes together and groups without sorting, twice as fast.
    done = (select(CohortMembership.user_id,
                   _count_in(S.exercise_id, tuple(outline.exercises), S.passed.is_(True)).label("passed"),
                   func.max(S.last_at).label("last"), func.max(case((S.stuck.is_not(None), 1), else_=0)).label("stuck"))
            .join(S, S.user_id == CohortMembership.user_id).where(CohortMembership.cohort_id == cohort.id)
            .group_by(CohortMembership.user_id).subquery())
    reads = (select(CohortMembership.user_id,
                    _count_in(LessonProgress.lesson_id, tuple(outline.lessons)).label("read"),
                    func.max(LessonProgress.last_read_at).label("last"))
             .join(LessonProgress, LessonProgress.user_id == CohortMembership.user_id)
             .where(CohortMembership.cohort_id == cohort.id).group_by(CohortMembership.user_id).subquery())
    n_passed = func.coalesce(done.c.passed, 0)
    n_read = func.coalesce(reads.c.read, 0)
    # The later of the two, either of which may be missing (SQLite's max(a, b) is NULL when one is).
    last = case((reads.c.last.is_(None), done.c.last), (done.c.last.is_(None), reads.c.last),
                (done.c.last > reads.c.last, done.c.last), else_=reads.c.last)
    rule = outline.rule
    complete = (and_(n_read >= rule.lessons, n_passed >= rule.exercises) if rule
                else n_read + n_passed == len(outline.lessons) + len(outline.exercises))
    since = func.coalesce(last, CohortMembership.joined_at)
    stalled = and_(~complete, since < literal(now - timedelta(days=stall_days), UTCDateTime()))
    attention = or_(stalled, func.coalesce(done.c.stuck, 0) == 1)
    return (
        select(User.id.label("user_id"), func.coalesce(func.nullif(User.display_name, ""), User.email).label("name"),
               User.email, CohortMembership.joined_at, (n_read + n_passed).label("done"), n_passed.label("passed"),
               last.label("last"), case((attention, 1), else_=0).label("attention"))
        .select_from(CohortMembership).join(User, User.id == CohortMembership.user_id)
        .outerjoin(done, done.c.user_id == User.id).outerjoin(reads, reads.c.user_id == User.id)
        .where(CohortMembership.cohort_id == cohort.id).subquery("roster_lines")
    )


def roster(cohort: Cohort, outline: Outline, now: datetime, *, stall_days: int = analytics.DEFAULT_STALL_DAYS,
           sort: str = "name", order: str = "asc", attention_only: bool = False, q: str = "", page: int = 1,
           size: int = ROSTER_PAGE_SIZE) -> Roster:
    """Return one page of the roster, sorted and filtered in SQL as analytics.sort_and_filter does in Python.

    Only the page's learners get their full lines (per-module counts, stuck checks); the ordering, the filters and
    the heading's counts come from aggregates over the exercise summaries and lesson reads.
    """
    lines = _roster_lines(cohort, outline, now, stall_days)
    needle = q.strip().casefold()
    matches = and_(true(), lines.c.attention == 1 if attention_only else true(),
                   or_(casefold(lines.c.name).contains(needle, autoescape=True),
                       casefold(lines.c.email).contains(needle, autoescape=True)) if needle else true())
    name = casefold(lines.c.name)
    keys = {"name": (name, casefold(lines.c.email)), "completion": (lines.c.done, name),
            "passed": (lines.c.passed, name), "last_activity": (lines.c.last, name)}[
        sort if sort in analytics.ROSTER_SORTS else "name"]
    # Never-active learners sort as the oldest activity; ties keep the members' order (by id) both ways, as
    # Python's stable sort does with reverse=True.
    ordering = [k.desc().nulls_last() if order == "desc" else k.asc().nulls_first() for k in keys]
    matched = case((matches, 1), else_=0)
    # One pass over the aggregates: the heading's counts ride on every row, `position` numbers the matching rows in
    # roster order, and `probe` keeps one row when the page is empty, so that the counts still arrive.
    ranked = select(
        lines.c.user_id, lines.c.name, lines.c.email, lines.c.joined_at, matched.label("matched"),
        func.count().over().label("members"), func.sum(lines.c.attention).over().label("flagged"),
        func.sum(matched).over().label("matching"),
        func.row_number().over(partition_by=matched, order_by=(*ordering, lines.c.user_id)).label("position"),
        func.row_number().over().label("probe"),
    ).subquery()

    def fetch(number: int) -> tuple[list[Any], int, int, int]:
        """Return page `number`'s rows in order and the members, flagged and matching counts."""
        first = (number - 1) * size
        rows = db.session.execute(
            select(ranked).where(or_(and_(ranked.c.matched == 1, ranked.c.position > first,
                                          ranked.c.position <= first + size), ranked.c.probe == 1))).all()
        counts = (int(rows[0].members), int(rows[0].flagged), int(rows[0].matching)) if rows else (0, 0, 0)
        shown = [r for r in rows if r.matched == 1 and first < r.position <= first + size]
        return sorted(shown, key=lambda r: r.position), *counts

    number = max(1, page)
    rows, members, flagged, matching = fetch(number)
    pages = page_count(matching, size)
    if number > pages:
        # A page past the last (the roster shrank since the link was made) shows the last one.
        number = pages
        rows, members, flagged, matching = fetch(number)
    learners = [LearnerRow(r.user_id, r.name, r.email, r.joined_at) for r in rows]
    counts = roster_counts(cohort, outline, [learner.user_id for learner in learners])
    entries = analytics.roster_from_counts(outline, learners, counts, now, stall_days=stall_days)
    return Roster(Page(entries, matching, number, pages, size), members, flagged)


def total_scores(cohort: Cohort) -> dict[int, float]:
    """Return {member id: total course score} for the members who tried anything (their LearnerTotal rows)."""
    return {uid: float(total) for uid, total in db.session.execute(
        select(LearnerTotal.user_id, LearnerTotal.total).where(LearnerTotal.user_id.in_(_members(cohort))))}


Groups = dict[str, list[tuple[list[str], list[str], int]]]


def _item_groups(cohort: Cohort, exercise_id: str | None = None) -> tuple[dict[str, ItemAggregate], Groups]:
    """Return per-exercise sums (thirds not yet filled in) and {exercise: [(checks run, checks failed, learners)]}.

    One pass over the members' summaries, grouped by exercise and latest checks: the covering index
    ix_exercise_summaries_items holds the rows in that order, so nothing is sorted; per-exercise sums add up the
    groups' sums. The member test is on `user_id + 0`, which no index answers: otherwise SQLite drives the query
    from the member ids through the roster index and sorts every row to group them (4x the CPU).
    """
    query = (select(S.exercise_id, S.last_checks, S.last_failed, func.count(), func.sum(S.attempts),
                    func.sum(case((S.passed.is_(True), 1), else_=0)), func.sum(S.first_score))
             .where((S.user_id + literal_column("0")).in_(_members(cohort)))
             .group_by(S.exercise_id, S.last_checks, S.last_failed))
    if exercise_id is not None:
        query = query.where(S.exercise_id == exercise_id)
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    groups: Groups = defaultdict(list)
    for eid, ran, lost, n, tries, passed, first in db.session.execute(query):
        groups[eid].append((json.loads(ran), json.loads(lost), int(n)))
        total = sums[eid]
        total[0] += int(tries)
        total[1] += int(n)
        total[2] += int(passed)
        total[3] += float(first)
    return {eid: ItemAggregate(eid, int(t[0]), int(t[1]), int(t[2]), t[3]) for eid, t in sums.items()}, groups


def _thirds(cohort: Cohort, exercise_id: str, k: int) -> tuple[float, float]:
    """Return the first-attempt scores summed over the k best and the k worst of the exercise's learners.

    Learners rank by total course score, ties by id (as analytics.discrimination_index with learners in id
    order): the rank index ix_exercise_summaries_rank holds each exercise's summaries in that order (minus_total
    ascending, then id), so each third is a LIMIT read from one end, not a sort of every summary.
    """
    # A probe of the membership key per row read: a LIMIT reads only k rows, so building the 10,000 member ids
    # into a lookup table for each third (what IN does on SQLite) cost twice as much.
    members = (select(CohortMembership.user_id)
               .where(CohortMembership.cohort_id == cohort.id, CohortMembership.user_id == S.user_id).exists())

    def third(*order: Any) -> Any:
        """The sum over the first k rows in this order, as a scalar subquery."""
        rows = select(S.first_score).where(S.exercise_id == exercise_id, members).order_by(*order).limit(k).subquery()
        return select(func.coalesce(func.sum(rows.c.first_score), 0.0)).scalar_subquery()

    top, bottom = db.session.execute(select(third(S.minus_total, S.user_id),
                                            third(S.minus_total.desc(), S.user_id.desc()))).one()
    return float(top), float(bottom)


def item_aggregates(cohort: Cohort, exercise_id: str | None = None) -> tuple[dict[str, ItemAggregate], Groups]:
    """Return per-exercise sums, the discrimination index's top- and bottom-third sums included, and check groups."""
    aggregates, groups = _item_groups(cohort, exercise_id)
    for eid, agg in aggregates.items():
        # Below the minimum the index is n/a and its thirds are never read.
        if agg.learners >= analytics.MIN_LEARNERS_FOR_STATS:
            top, bottom = _thirds(cohort, eid, agg.learners // 3)
            aggregates[eid] = replace(agg, top_third_sum=top, bottom_third_sum=bottom)
    return aggregates, groups


def failed_check_details(cohort: Cohort, exercise_id: str, check_ids: list[str],
                         describe: Callable[[Any], str] | None = None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Return (messages, samples) for checks of one exercise, from the latest answers that failed them.

    `describe` words a stored answer (option ids become their texts); without it the answer's own text is used.
    """
    messages: dict[str, str] = {}
    samples: dict[str, list[str]] = {}
    for cid in check_ids:
        rows = db.session.execute(
            select(Attempt.answer, Attempt.checks).join(S, S.last_attempt_id == Attempt.id)
            .where(S.exercise_id == exercise_id, S.user_id.in_(_members(cohort)),
                   S.last_failed.contains(json.dumps(cid), autoescape=True))
            .order_by(S.last_at.desc(), S.user_id.desc()).limit(SAMPLE_ROWS)
        )
        texts: list[str] = []
        for answer, checks in rows:
            for c in checks or []:
                if str(c.get("id")) == cid and not c.get("passed"):
                    messages.setdefault(cid, str(c.get("message", "")))
            text = analytics.truncate(describe(answer) if describe else answer_text(answer))
            if text and text not in texts and len(texts) < analytics.SAMPLES_PER_CHECK:
                texts.append(text)
        samples[cid] = texts
    return messages, samples


def item_analysis(cohort: Cohort, outline: Outline) -> list[analytics.ItemStats]:
    """Return every exercise's statistics for the item analysis page (the most failed checks without samples)."""
    aggregates, groups = item_aggregates(cohort)
    checks = {eid: analytics.latest_failed_checks(g, top=1) for eid, g in groups.items()}
    return analytics.item_stats(outline, aggregates, checks)


def one_item(cohort: Cohort, outline: Outline, exercise_id: str,
             describe: Callable[[Any], str] | None = None) -> analytics.ItemStats:
    """Return one exercise's statistics with its first-attempt scores and its most failed checks with samples."""
    aggregates, by_exercise = item_aggregates(cohort, exercise_id)
    groups = by_exercise.get(exercise_id, [])
    ranked = analytics.latest_failed_checks(groups)
    messages, samples = failed_check_details(cohort, exercise_id, [f.id for f in ranked], describe)
    checks: tuple[FailedCheck, ...] = analytics.latest_failed_checks(groups, messages, samples)
    firsts = list(db.session.scalars(
        select(S.first_score).where(S.exercise_id == exercise_id, S.user_id.in_(_members(cohort)))))
    (stat,) = [s for s in analytics.item_stats(outline, aggregates, {exercise_id: checks},
                                                {exercise_id: firsts}) if s.exercise_id == exercise_id]
    return stat
