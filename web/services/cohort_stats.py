"""The instructor pages' figures, read from the exercise summaries with a few aggregate queries per page.

A cohort of 10,000 learners has some 170,000 attempts; these queries read one summary row per learner and
exercise (web.services.summaries keeps them), let the database do the sums, and hand analytics plain
aggregates. Nothing here reads an attempt except the few sample answers on one exercise's page.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, func, select

from web.extensions import db
from web.models import Attempt, Cohort, CohortMembership, ExerciseSummary, LessonProgress
from web.services import analytics
from web.services.analytics import FailedCheck, ItemAggregate, LearnerCounts, Outline
from web.services.cohorts import answer_text

S = ExerciseSummary
# How many of the latest failing answers are read to find SAMPLES_PER_CHECK distinct ones.
SAMPLE_ROWS = 25


def _members(cohort: Cohort):
    """Return a subquery of the cohort's member ids."""
    return select(CohortMembership.user_id).where(CohortMembership.cohort_id == cohort.id)


def _count_in(column: Any, ids: tuple[str, ...], also: Any = None) -> Any:
    """SUM of rows whose column is one of ids (and `also` holds): a per-module count in one pass."""
    if not ids:
        return func.sum(0)
    cond = column.in_(ids) if also is None else and_(column.in_(ids), also)
    return func.sum(case((cond, 1), else_=0))


def roster_counts(cohort: Cohort, outline: Outline) -> dict[int, LearnerCounts]:
    """Return every member's LearnerCounts: per-module reads and passes, last activity, stuck checks."""
    modules = outline.modules
    members = _members(cohort)
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


def _totals(cohort: Cohort):
    """Return a CTE of each member's total course score: the sum of their best scores (analytics.total_scores)."""
    return (select(S.user_id, func.sum(S.best_score).label("total"))
            .where(S.user_id.in_(_members(cohort))).group_by(S.user_id).cte("totals"))


def total_scores(cohort: Cohort) -> dict[int, float]:
    """Return {member id: total course score} for the members who tried anything."""
    totals = _totals(cohort)
    return {uid: float(total) for uid, total in db.session.execute(select(totals.c.user_id, totals.c.total))}


def item_aggregates(cohort: Cohort, exercise_id: str | None = None) -> dict[str, ItemAggregate]:
    """Return per-exercise sums, the discrimination index's top- and bottom-third sums included, in one query.

    Learners are ranked by total score (ties by id) within each exercise, as analytics.discrimination_index does.
    """
    totals = _totals(cohort)
    where = [S.user_id.in_(_members(cohort))]
    if exercise_id is not None:
        where.append(S.exercise_id == exercise_id)
    # Both windows share one partition and order (the count over the whole frame), so the rows are sorted once.
    window = {"partition_by": S.exercise_id, "order_by": (totals.c.total.desc(), S.user_id)}
    ranked = (
        select(S.exercise_id, S.attempts, S.passed, S.first_score,
               func.row_number().over(**window).label("rank"),
               func.count().over(**window, rows=(None, None)).label("n"))
        .join(totals, totals.c.user_id == S.user_id).where(*where).subquery()
    )
    third = ranked.c.n // 3
    rows = db.session.execute(
        select(ranked.c.exercise_id, func.sum(ranked.c.attempts), func.count(),
               func.sum(case((ranked.c.passed.is_(True), 1), else_=0)), func.sum(ranked.c.first_score),
               func.sum(case((ranked.c.rank <= third, ranked.c.first_score), else_=0.0)),
               func.sum(case((ranked.c.rank > ranked.c.n - third, ranked.c.first_score), else_=0.0)))
        .group_by(ranked.c.exercise_id)
    )
    return {eid: ItemAggregate(eid, int(tries), int(n), int(passed), float(first), float(top), float(bottom))
            for eid, tries, n, passed, first, top, bottom in rows}


def check_groups(cohort: Cohort, exercise_id: str | None = None) -> dict[str, list[tuple[list[str], list[str], int]]]:
    """Return {exercise: [(checks run, checks failed, learners)]}: the latest attempts grouped by their checks."""
    query = (select(S.exercise_id, S.last_checks, S.last_failed, func.count())
             .where(S.user_id.in_(_members(cohort))).group_by(S.exercise_id, S.last_checks, S.last_failed))
    if exercise_id is not None:
        query = query.where(S.exercise_id == exercise_id)
    out: dict[str, list[tuple[list[str], list[str], int]]] = defaultdict(list)
    for eid, ran, lost, n in db.session.execute(query):
        out[eid].append((json.loads(ran), json.loads(lost), int(n)))
    return out


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
    groups = check_groups(cohort)
    checks = {eid: analytics.latest_failed_checks(g, top=1) for eid, g in groups.items()}
    return analytics.item_stats(outline, item_aggregates(cohort), checks)


def one_item(cohort: Cohort, outline: Outline, exercise_id: str,
             describe: Callable[[Any], str] | None = None) -> analytics.ItemStats:
    """Return one exercise's statistics with its first-attempt scores and its most failed checks with samples."""
    groups = check_groups(cohort, exercise_id).get(exercise_id, [])
    ranked = analytics.latest_failed_checks(groups)
    messages, samples = failed_check_details(cohort, exercise_id, [f.id for f in ranked], describe)
    checks: tuple[FailedCheck, ...] = analytics.latest_failed_checks(groups, messages, samples)
    firsts = list(db.session.scalars(
        select(S.first_score).where(S.exercise_id == exercise_id, S.user_id.in_(_members(cohort)))))
    (stat,) = [s for s in analytics.item_stats(outline, item_aggregates(cohort, exercise_id), {exercise_id: checks},
                                                {exercise_id: firsts}) if s.exercise_id == exercise_id]
    return stat
