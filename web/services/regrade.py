"""Regrade stored attempts of one exercise with its current rules, keeping every replaced result for audit.

Two phases, so a regrade can run beside live traffic. Phase 1 reads keyset pages of attempts (the session
emptied between pages) and grades them, keeping only the results that change (memory grows with those, not with
all attempts). Phase 2 opens a write transaction with db.begin_write() and stores them with one commit at the
end: a grader crash or any error leaves every attempt as it was, and on SQLite learners' submissions queue for
the short write instead of either side failing with 'database is locked'. Idempotent: an attempt whose result
would not change is not touched, so a second run changes nothing and writes no audit rows. A reviewer's override
lives in its own table (web.services.reviews), so a regrade never touches it.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update

import graders
from web.extensions import db
from web.models import Attempt, AttemptGrade, ExerciseState, utcnow
from web.services import lti, summaries
from web.services.attempts import grading_context, learner_view

BATCH_SIZE = 500
# The columns phase 2 compares and keeps for audit, read as plain rows.
STORED = (Attempt.id, Attempt.score, Attempt.passed, Attempt.status, Attempt.checks, Attempt.grader_version,
          Attempt.review, Attempt.review_reasons)
SCORE_EPSILON = 1e-9
# Pages handed to grading processes and not yet collected, per process: enough to keep each busy while the next
# page is read, few enough that memory stays with the pages in flight whatever the exercise's size.
PAGES_IN_FLIGHT = 2


class Stored(NamedTuple):
    """An attempt's stored result, as phase 1 reads it: what `differs` compares and the audit row keeps."""

    id: int
    score: float
    passed: bool
    status: str
    checks: Any
    grader_version: str
    review: str
    review_reasons: Any


# One page item: the stored result, its learner, the answer, and the context it is graded in.
Item = tuple[Stored, int, Any, graders.Context]
# A result that changes: the attempt, its stored score and pass, its learner, and the new stored_values (not the
# stored checks, which a grading process would otherwise send back for nothing).
Change = tuple[int, float, bool, int, dict[str, Any]]


class UnknownExercise(LookupError):
    """No exercise with this id in the course."""

    def __init__(self, exercise_id: str, known: list[str]):
        """Name the bad id and list the known ones."""
        super().__init__(f"unknown exercise {exercise_id!r} (known exercises: {', '.join(known)})")


@dataclass
class RegradeReport:
    """What a regrade did (or, with dry_run, would do)."""

    exercise_id: str
    grader_version: str
    dry_run: bool = False
    regraded: int = 0
    changed: int = 0
    scores_changed: int = 0
    passed_to_failed: int = 0
    failed_to_passed: int = 0
    # The learners whose stored results changed: a course-wide regrade refreshes their totals once, at the end.
    learners: set[int] = field(default_factory=set, repr=False, compare=False)

    def summary(self) -> str:
        """Return the one-paragraph report the CLI prints."""
        verb = "would change" if self.dry_run else "changed"
        # A dry run changes nothing, so it must not claim it regraded anything.
        did = "would regrade" if self.dry_run else "regraded"
        return (f"{self.exercise_id}: {did} {self.regraded} attempts with {self.grader_version}; "
                f"{verb} {self.changed} results ({self.scores_changed} scores changed, "
                f"{self.passed_to_failed} passed->failed, {self.failed_to_passed} failed->passed)"
                + (" [dry run: nothing written]" if self.dry_run else ""))


def stored_values(result: graders.Result) -> dict[str, Any]:
    """Return a result as the attempt columns that store it (checks in their JSON shape)."""
    return {
        "score": result.score, "passed": result.passed, "status": result.status,
        "checks": [c.to_dict() for c in result.checks], "grader_version": result.grader_version,
        "message": result.message, "answer_text": result.answer_text,
        "review": result.review, "review_reasons": list(result.review_reasons),
    }


def differs(attempt: Attempt, new: dict[str, Any]) -> bool:
    """Return True when the new stored_values differ from the attempt's in anything a learner or instructor sees."""
    return (
        abs(float(attempt.score) - new["score"]) > SCORE_EPSILON
        or bool(attempt.passed) != new["passed"]
        or attempt.status != new["status"]
        or (attempt.checks or []) != new["checks"]
        or attempt.grader_version != new["grader_version"]
        or attempt.review != new["review"]
        or list(attempt.review_reasons or []) != new["review_reasons"]
    )


def default_context(exercise: Any, attempt: Attempt) -> graders.Context:
    """Rebuild the context the attempt was graded in, exactly as the site builds it on submit."""
    state = db.session.get(ExerciseState, (attempt.user_id, exercise.id))
    return _context_from_seed(exercise, state.shuffle_seed if state is not None else None)


def _context_from_seed(exercise: Any, seed: int | None) -> graders.Context:
    """Return the grading context of a learner with this shuffle seed (None: the learner never saw the form)."""
    if seed is None:
        return graders.Context(pass_threshold=exercise.pass_threshold)
    # The shuffle is seeded per learner, so replaying the learner's view gives back the order they saw.
    return grading_context(exercise, learner_view(exercise, seed))


def batch_contexts(exercise: Any, user_ids: set[int]) -> Callable[[Any, Attempt], graders.Context]:
    """Return a context_for that answers from one read of these learners' seeds, made once per batch.

    Types whose context does not depend on the learner's shuffle (all but ordering, whose view carries the order
    shown) get one context for the whole batch; the others get one per learner, not one per attempt.
    """
    seeds = dict(db.session.execute(select(ExerciseState.user_id, ExerciseState.shuffle_seed).where(
        ExerciseState.exercise_id == exercise.id, ExerciseState.user_id.in_(user_ids))).all())
    shared = _context_from_seed(exercise, None)
    probe = next(iter(seeds.values()), None)
    if probe is None or _context_from_seed(exercise, probe) == shared:
        return lambda _exercise, _attempt: shared
    contexts: dict[int | None, graders.Context] = {}

    def context_for(_exercise: Any, attempt: Attempt) -> graders.Context:
        """Return the attempt's learner's context, computed once per learner."""
        seed = seeds.get(attempt.user_id)
        if seed not in contexts:
            contexts[seed] = _context_from_seed(exercise, seed)
        return contexts[seed]

    return context_for


_RESULT_COLUMNS = ("score", "passed", "status", "checks", "grader_version", "message", "answer_text", "review",
                   "review_reasons")
# Core statements, built once: the ORM's bulk forms cost more in Python per row than SQLite took to write it.
_AUDIT = insert(AttemptGrade.__table__)
_STORE = (update(Attempt.__table__).where(Attempt.__table__.c.id == bindparam("attempt_id"))
          .values({c: bindparam(c) for c in _RESULT_COLUMNS}))


def _apply(page: list[tuple[Any, dict[str, Any]]], reason: str) -> None:
    """Keep each attempt's current result as an audit row, then store its new stored_values (one page, bulk)."""
    now = utcnow()
    db.session.execute(_AUDIT, [
        {"attempt_id": current.id, "score": current.score, "passed": current.passed, "status": current.status,
         "checks": current.checks, "grader_version": current.grader_version, "reason": reason, "created_at": now}
        for current, _new in page])
    # One executemany by primary key, no Attempt objects built.
    db.session.execute(_STORE, [{"attempt_id": current.id, **new} for current, new in page])


# SQLite's page cache (KiB) for the connection that writes a regrade: its bulk UPDATEs and summary refreshes touch
# every page of the attempts and summaries tables and their indexes, which the default 2 MiB keeps evicting
# (100,000 changed attempts: 59.6 s with the default, 45.0 s with this). Put back after the regrade.
REGRADE_CACHE_KIB = 65536


def _keep_cache() -> None:
    """Leave the page cache as it is (no database connection grew it)."""


def _grow_sqlite_cache(session: Any) -> Callable[[], None]:
    """On SQLite, give the writing connection a larger page cache; return what puts it back (a no-op elsewhere)."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return _keep_cache
    raw = conn.connection.dbapi_connection
    previous = int(raw.execute("PRAGMA cache_size").fetchone()[0])
    raw.execute(f"PRAGMA cache_size=-{REGRADE_CACHE_KIB}")
    # The pooled connection goes back to serving pages after the commit: its cache must not stay this large.
    return lambda: raw.execute(f"PRAGMA cache_size={previous}")


def grade_items(exercise: Any, items: list[Item]) -> list[Change]:
    """Grade one page of items; return the ones whose result changes (pure: no database, no app)."""
    changes = []
    for stored, user_id, answer, context in items:
        new = stored_values(graders.grade(exercise.type, exercise.spec, answer, context))
        if differs(stored, new):
            changes.append((stored.id, stored.score, stored.passed, user_id, new))
    return changes


# The course a grading process grades with: set once in each process as it starts (see grading_pool).
_POOL_COURSE: list[Any] = []


def _start_grading_process(course: Any) -> None:
    """Keep the course in this grading process (it came by fork, already compiled)."""
    _POOL_COURSE[:] = [course]


def _grade_in_process(exercise_id: str, items: list[Item]) -> list[Change]:
    """Grade one page in a grading process."""
    return grade_items(_POOL_COURSE[0].exercises[exercise_id], items)


@dataclass(frozen=True)
class GradingPool:
    """Processes that grade pages, and how many there are."""

    executor: ProcessPoolExecutor
    workers: int


@contextmanager
def grading_pool(course: Any, workers: int) -> Iterator[GradingPool | None]:
    """Yield processes that grade pages in parallel (None: grade in this process).

    Graders are pure functions of the exercise and the answer, so pages grade on every core while this process
    reads the next ones and writes. The processes are forked, so they start with the course already compiled;
    where fork is not available (or `workers` is 1) pages are graded here, with the same results.
    """
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_grading_process, initargs=(course,))
    try:
        yield GradingPool(pool, workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def regrade_exercise(
    course: Any,
    exercise_id: str,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    reason: str = "regrade",
    context_for: Callable[[Any, Attempt], graders.Context] | None = None,
    totals: bool = True,
    pool: GradingPool | None = None,
) -> RegradeReport:
    """Regrade every stored attempt of one exercise with the course's current rules; see the module docstring.

    `totals` False leaves the changed learners' course totals to the caller (regrade_course sums them once for
    every exercise it regraded, instead of once per exercise). With a `pool` (grading_pool) pages are graded in
    its processes, with the same results.
    """
    exercise = course.exercises.get(exercise_id)
    if exercise is None:
        raise UnknownExercise(exercise_id, sorted(course.exercises))
    report = RegradeReport(exercise_id, graders.version(exercise.type), dry_run=dry_run)
    session = db.session
    changes: list[tuple[int, dict[str, Any]]] = []
    in_flight: deque[Future[list[Change]]] = deque()

    def collect(page_changes: list[Change]) -> None:
        """Count one graded page's changes into the report and keep them for phase 2."""
        for attempt_id, score, passed, user_id, new in page_changes:
            report.changed += 1
            report.scores_changed += abs(float(score) - new["score"]) > SCORE_EPSILON
            report.passed_to_failed += bool(passed) and not new["passed"]
            report.failed_to_passed += (not passed) and new["passed"]
            changes.append((attempt_id, new))
            report.learners.add(user_id)

    last_id = 0
    restore_cache = _keep_cache
    try:
        # Phase 1 only reads: grading is the slow part, and learners keep writing meanwhile.
        while True:
            # Plain rows, not Attempt objects: nothing here is written through the ORM.
            batch = list(session.execute(
                select(*STORED, Attempt.user_id, Attempt.answer)
                .where(Attempt.exercise_id == exercise_id, Attempt.id > last_id)
                .order_by(Attempt.id).limit(batch_size)
            ))
            if not batch:
                break
            # One query for the page's shuffle seeds, kept in a dict (the identity map would drop them), and one
            # context per learner at most.
            contexts = context_for or batch_contexts(exercise, {a.user_id for a in batch})
            items = [(Stored(*row[:len(STORED)]), row.user_id, row.answer, contexts(exercise, row)) for row in batch]
            report.regraded += len(items)
            if pool is None:
                collect(grade_items(exercise, items))
            else:
                in_flight.append(pool.executor.submit(_grade_in_process, exercise_id, items))
                while len(in_flight) > PAGES_IN_FLIGHT * pool.workers:
                    collect(in_flight.popleft().result())
            last_id = batch[-1].id
            session.expunge_all()
        while in_flight:
            collect(in_flight.popleft().result())
        session.rollback()
        if dry_run or not changes:
            return report
        # Phase 2 writes every change in one transaction that holds the write lock only while it writes
        # (db.begin_write(): on SQLite a submission meanwhile queues, and neither side fails 'database is locked').
        db.begin_write()
        restore_cache = _grow_sqlite_cache(session)
        for start in range(0, len(changes), batch_size):
            page = dict(changes[start:start + batch_size])
            current = session.execute(select(*STORED).where(Attempt.id.in_(page)))
            # A concurrent regrade may have stored this result already; writing it twice would duplicate audit.
            todo = [(row, page[row.id]) for row in current if differs(row, page[row.id])]
            if todo:
                _apply(todo, reason)
        # The summaries of every learner whose attempts changed, in the same transaction as the changes.
        summaries.refresh(session, exercise_id, report.learners, totals=totals)
        # A best score a regrade moved is moved in the LMS gradebooks too: the outbox rows commit with it.
        lti.queue_regraded(exercise_id)
        session.commit()
    except BaseException:
        for future in in_flight:
            future.cancel()
        session.rollback()
        raise
    finally:
        restore_cache()  # after the commit or the rollback: the connection goes back to the pool
    return report


def regrade_course(course: Any, exercise_ids: list[str] | None = None, *, dry_run: bool = False,
                   reason: str = "regrade", workers: int = 1, batch_size: int = BATCH_SIZE) -> list[RegradeReport]:
    """Regrade several exercises (None: every exercise of the course), one transaction each, totals once at the end.

    Every id is checked before anything is graded. Each exercise's results and summaries commit as
    regrade_exercise commits them; the learners' course totals (each the sum of their best scores, copied onto
    every one of their summaries for the item analysis's ranking) are summed once, in a last short transaction,
    for every learner whose results changed. Refreshing them after each exercise instead rewrote every summary of
    those learners once per exercise: about a third of a course-wide regrade. Until that last commit the item
    analysis may rank a regraded learner by their previous total; scores, passes and summaries are current.
    With `workers` above 1 the answers are graded in that many processes (grading_pool).
    """
    ids = list(course.exercise_order()) if exercise_ids is None else list(dict.fromkeys(exercise_ids))
    unknown = [e for e in ids if e not in course.exercises]
    if unknown:
        raise UnknownExercise(unknown[0], sorted(course.exercises))
    reports: list[RegradeReport] = []
    try:
        with grading_pool(course, workers) as pool:
            for exercise_id in ids:
                reports.append(regrade_exercise(course, exercise_id, dry_run=dry_run, reason=reason, totals=False,
                                                pool=pool, batch_size=batch_size))
    finally:
        # Also when a later exercise failed: the ones already committed must not keep stale totals.
        learners = set().union(*(r.learners for r in reports))
        if learners and not dry_run:
            _refresh_totals(learners)
    return reports


def _refresh_totals(learners: set[int]) -> None:
    """Sum these learners' course totals from their summaries, in one write transaction of its own."""
    db.begin_write()
    try:
        summaries.refresh_totals(db.session, learners)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
