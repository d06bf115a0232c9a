"""Per-learner, per-exercise summaries of attempts: what the instructor pages and the progress badges read.

`refresh` is the one place that decides what a summary holds. Every writer of attempts (a regrade, a review
decision, the migration that fills the table) calls it in the same transaction as its own writes, for the
(learner, exercise) pairs it touched; it recomputes those pairs from their attempts, so a summary can never
drift from the attempts it stands for. A submission instead folds its one new attempt into the stored summary
(`record_attempt`, the same values through `summary_values`), so its cost does not grow with the pair's history;
tests/test_summaries.py checks both against a recomputation in plain Python. `refresh` then recomputes those
learners' totals the same way (`refresh_totals`: each total course score in its own row, and copied onto the
learner's summaries for the item analysis's rank index). A reviewer's override counts here as everywhere
(web.services.outcomes): the rows `refresh` reads carry the overriding score and verdict, and a decision
refreshes its pair.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from web.models import Attempt, AttemptOverride, ExerciseSummary, LearnerTotal, User
from web.services.analytics import REPEAT_FAIL_STREAK

# Users per statement when many pairs are refreshed at once (a regrade, the migration): bounded IN lists.
CHUNK = 500
_A = Attempt.__table__
_S = ExerciseSummary.__table__
_O = AttemptOverride.__table__
_T = LearnerTotal.__table__
VALUE_COLUMNS = ("attempts", "best_score", "passed", "first_score", "last_attempt_id", "last_at", "last_checks",
                 "last_failed", "stuck")


def check_ids(ids: Iterable[Any]) -> str:
    """Return a set of check ids as the sorted JSON text stored in a summary (equal sets give equal text)."""
    return json.dumps(sorted({str(i) for i in ids}))


def summary_values(count: int, best: float, passed: bool, first: Any, tail: Sequence[Any]) -> dict[str, Any]:
    """Return a summary's columns from its attempts' aggregates, its first row and its latest rows (newest first).

    `tail` holds up to REPEAT_FAIL_STREAK rows with `id`, `created_at` and `checks`; a check is "stuck" when
    it failed on each of the latest REPEAT_FAIL_STREAK attempts and the exercise is not passed (as
    analytics.repeated_failures decides from every attempt).
    """
    last = tail[0]
    failed_sets = [{str(c.get("id")) for c in (row.checks or []) if not c.get("passed")} for row in tail]
    stuck = None
    if not passed and len(tail) >= REPEAT_FAIL_STREAK:
        common = set.intersection(*failed_sets[:REPEAT_FAIL_STREAK])
        stuck = check_ids(common) if common else None
    return {
        "attempts": int(count), "best_score": float(best), "passed": bool(passed), "first_score": float(first.score),
        "last_attempt_id": last.id, "last_at": last.created_at,
        "last_checks": check_ids(c.get("id") for c in (last.checks or [])),
        "last_failed": check_ids(failed_sets[0]), "stuck": stuck,
    }


def _ranked(every_learner: bool) -> Any:
    """Build the query of every counted attempt of the pairs, numbered from the oldest and from the newest.

    Binds `exercise` and, unless every_learner, the expanding list `users`. Built once per shape (below): building
    this statement took longer than running it.
    """
    pair = (_A.c.user_id, _A.c.exercise_id)
    oldest = (_A.c.created_at, _A.c.attempt_number, _A.c.id)
    newest = tuple(c.desc() for c in oldest)
    where = [_A.c.exercise_id == bindparam("exercise"), _A.c.status != "invalid"]
    if not every_learner:
        where.append(_A.c.user_id.in_(bindparam("users", expanding=True)))
    # Scores and verdicts as they count: a reviewer's override where there is one (as outcomes.effective_score).
    score = func.coalesce(_O.c.score, _A.c.score)
    passed = func.coalesce(_O.c.passed, _A.c.passed)
    inner = select(
        _A.c.user_id, _A.c.id, score.label("score"), _A.c.checks, _A.c.created_at,
        func.row_number().over(partition_by=pair, order_by=oldest).label("from_first"),
        func.row_number().over(partition_by=pair, order_by=newest).label("from_last"),
        func.count().over(partition_by=pair).label("n"),
        func.max(score).over(partition_by=pair).label("best"),
        func.max(case((passed.is_(True), 1), else_=0)).over(partition_by=pair).label("any_passed"),
    ).select_from(_A.outerjoin(_O, _O.c.attempt_id == _A.c.id)).where(*where).subquery()
    # Only the first attempt and the latest few leave the database; the window functions did the counting.
    return (select(inner).where(or_(inner.c.from_first == 1, inner.c.from_last <= REPEAT_FAIL_STREAK))
            .order_by(inner.c.user_id, inner.c.from_last))


_RANKED = {True: _ranked(True), False: _ranked(False)}


def _compute(conn: Any, exercise_id: str, user_ids: Sequence[int] | None) -> dict[int, dict[str, Any]]:
    """Return {user id: summary columns} for the learners of `user_ids` (None: all) who have counted attempts."""
    grouped: dict[int, list[Any]] = {}
    params: dict[str, Any] = {"exercise": exercise_id}
    if user_ids is not None:
        params["users"] = list(user_ids)
    for row in conn.execute(_RANKED[user_ids is None], params):
        grouped.setdefault(row.user_id, []).append(row)
    out = {}
    for uid, rows in grouped.items():
        first = next(r for r in rows if r.from_first == 1)
        tail = [r for r in rows if r.from_last <= REPEAT_FAIL_STREAK]
        out[uid] = summary_values(rows[0].n, rows[0].best, bool(rows[0].any_passed), first, tail)
    return out


def _upsert_statement(dialect: str, table: Any = _S) -> Any:
    """Return the INSERT ... ON CONFLICT DO UPDATE that stores summaries or totals (built once per dialect)."""
    if (dialect, table.name) not in _UPSERTS:
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        keys = list(table.primary_key.columns)
        values = VALUE_COLUMNS if table is _S else ("total",)
        _UPSERTS[dialect, table.name] = stmt.on_conflict_do_update(index_elements=keys,
                                                                   set_={c: stmt.excluded[c] for c in values})
    return _UPSERTS[dialect, table.name]


_UPSERTS: dict[tuple[str, str], Any] = {}
# Only rows whose copy differs are written: a regrade that changes no score rewrites no summary.
_COPY_TOTAL = (update(_S).where(_S.c.user_id == bindparam("uid"), _S.c.minus_total != bindparam("minus"))
               .values(minus_total=bindparam("minus")))
_LOCK_USERS = (select(User.__table__.c.id).where(User.__table__.c.id.in_(bindparam("users", expanding=True)))
               .order_by(User.__table__.c.id).with_for_update())


def _dialect(conn: Any) -> str:
    """Return the database's name ('sqlite', 'postgresql') for a Session or a Connection."""
    return conn.get_bind().dialect.name if hasattr(conn, "get_bind") else conn.dialect.name


def _upsert(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Insert the summaries, replacing any stored for the same (learner, exercise)."""
    conn.execute(_upsert_statement(_dialect(conn)), rows if len(rows) > 1 else rows[0])


def refresh_totals(conn: Any, user_ids: Iterable[int] | None = None) -> None:
    """Recompute these learners' total course scores from their summaries (None: every learner).

    Each total is the sum of the learner's best scores (analytics.total_scores); it is stored in learner_totals
    and, negated, on each of the learner's summaries. A learner left with no summary loses the total.
    """
    if user_ids is None:
        ids = sorted(set(conn.execute(select(_S.c.user_id).distinct()).scalars())
                     | set(conn.execute(select(_T.c.user_id)).scalars()))
    else:
        ids = sorted(set(user_ids))
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        totals = {uid: float(total) for uid, total in conn.execute(
            select(_S.c.user_id, func.sum(_S.c.best_score)).where(_S.c.user_id.in_(chunk)).group_by(_S.c.user_id))}
        empty = [uid for uid in chunk if uid not in totals]
        if empty:
            conn.execute(delete(_T).where(_T.c.user_id.in_(empty)))
        if totals:
            rows = [{"user_id": uid, "total": total} for uid, total in totals.items()]
            conn.execute(_upsert_statement(_dialect(conn), _T), rows if len(rows) > 1 else rows[0])
            # The same float, negated (exactly), so the rank index orders learners as the totals do.
            conn.execute(_COPY_TOTAL, [{"uid": uid, "minus": -total} for uid, total in totals.items()])


def refresh(conn: Any, exercise_id: str, user_ids: Iterable[int] | None = None, *, locked: bool = False,
            totals: bool = True) -> None:
    """Recompute the summaries of these learners on one exercise from their attempts (None: every learner).

    `conn` is the caller's Session or Connection, inside the transaction that wrote the attempts. A learner
    left with no counted attempt (every one regraded invalid) loses the summary. On PostgreSQL the learners'
    rows are locked first (`locked`: the caller already holds them), so a submission committing meanwhile is
    either seen here or waits, and never overwritten by a summary computed without it. `totals` False leaves the
    learners' totals to the caller (refresh_all sums them once at the end; migration 0007 predates them).
    """
    if user_ids is None:
        chunks: Iterable[Sequence[int] | None] = [None]
    else:
        ids = sorted(set(user_ids))
        chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
    postgres = _dialect(conn) == "postgresql"
    for chunk in chunks:
        if postgres and not locked and chunk is not None:
            conn.execute(_LOCK_USERS, {"users": list(chunk)})
        values = _compute(conn, exercise_id, chunk)
        gone = select(_S.c.user_id).where(_S.c.exercise_id == exercise_id)
        if chunk is not None:
            gone = gone.where(_S.c.user_id.in_(chunk))
        empty = [uid for uid in conn.execute(gone).scalars() if uid not in values] if (
            chunk is None or len(values) < len(chunk)) else []
        if empty:
            for i in range(0, len(empty), CHUNK):
                conn.execute(delete(_S).where(_S.c.exercise_id == exercise_id, _S.c.user_id.in_(empty[i:i + CHUNK])))
        rows = [{"user_id": uid, "exercise_id": exercise_id, **v} for uid, v in values.items()]
        for i in range(0, len(rows), CHUNK):
            _upsert(conn, rows[i:i + CHUNK])
        if totals and chunk is not None:
            refresh_totals(conn, chunk)
    if totals and user_ids is None:
        refresh_totals(conn)


_STORED = select(*(_S.c[c] for c in VALUE_COLUMNS)).where(_S.c.user_id == bindparam("uid"),
                                                          _S.c.exercise_id == bindparam("exercise"))
# The attempts before the new one, newest first: only as many as the "stuck" flag looks at (ix_attempts_pair_time).
_PREVIOUS = (select(_A.c.id, _A.c.created_at, _A.c.checks)
             .where(_A.c.user_id == bindparam("uid"), _A.c.exercise_id == bindparam("exercise"),
                    _A.c.status != "invalid", _A.c.id != bindparam("new"))
             .order_by(_A.c.created_at.desc(), _A.c.attempt_number.desc(), _A.c.id.desc())
             .limit(REPEAT_FAIL_STREAK - 1))


def record_attempt(conn: Any, user_id: int, exercise_id: str, attempt: dict[str, Any]) -> None:
    """Fold one attempt just inserted (its `id`, `score`, `passed`, `status`, `checks`, `created_at`) into its summary.

    The same result as `refresh` for that pair, without reading the pair's history: the stored summary already
    sums every earlier attempt, so a submission costs the same after 5 attempts or 5,000. Only when the learner is
    not yet past the exercise are the two attempts before it read (the "stuck" flag), through an index. Whatever
    this cannot fold in exactly (no summary yet, an attempt older than the latest, a not-counted result) goes
    through `refresh`. The caller holds the learner's lock, as for `refresh(locked=True)`. The learner's total
    is recomputed only when the best score moved.
    """
    params = {"uid": user_id, "exercise": exercise_id}
    old = conn.execute(_STORED, params).first()
    if old is None or attempt["status"] == "invalid" or attempt["created_at"] < old.last_at:
        refresh(conn, exercise_id, [user_id], locked=True)
        return
    passed = bool(old.passed) or bool(attempt["passed"])
    best = max(float(old.best_score), float(attempt["score"]))
    tail = [SimpleNamespace(id=attempt["id"], created_at=attempt["created_at"], checks=attempt["checks"])]
    if not passed and old.attempts + 1 >= REPEAT_FAIL_STREAK:
        tail += list(conn.execute(_PREVIOUS, {**params, "new": attempt["id"]}))
    values = summary_values(old.attempts + 1, best, passed, SimpleNamespace(score=old.first_score), tail)
    _upsert(conn, [{"user_id": user_id, "exercise_id": exercise_id, **values}])
    if best != float(old.best_score):
        refresh_totals(conn, [user_id])


def refresh_all(conn: Any, *, totals: bool = True) -> None:
    """Recompute every summary from the attempts (the migration's fill, and a repair after manual edits).

    `totals` False skips the learners' totals (migration 0007 runs before their table exists).
    """
    for exercise_id in list(conn.execute(select(_A.c.exercise_id).distinct()).scalars()):
        refresh(conn, exercise_id, totals=False)
    stored = select(_S.c.exercise_id).distinct().where(_S.c.exercise_id.not_in(select(_A.c.exercise_id)))
    for exercise_id in list(conn.execute(stored).scalars()):
        conn.execute(delete(_S).where(_S.c.exercise_id == exercise_id))
    if totals:
        refresh_totals(conn)
