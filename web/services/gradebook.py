"""Gradebook export: one row per learner, per-exercise best score and completion, streamed as CSV or JSON.

The row builders and encoders are pure generators over plain rows, so a 10,000-learner cohort never sits in
memory whole: the view feeds them from batched queries and Flask streams what they yield.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from web.extensions import db
from web.models import Attempt, CohortMembership, LessonProgress, User
from web.services.analytics import CompletionRule
from web.services.outcomes import effective_passed, effective_score

# OWASP CSV injection: a spreadsheet treats a cell starting with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Learners fetched per query while streaming; big enough to keep round trips few, small enough to stay flat.
BATCH_SIZE = 500


def neutralise(value: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with a single quote; leave numbers alone."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


@dataclass(frozen=True)
class GradebookRow:
    """One learner's gradebook line."""

    user_id: int
    name: str
    email: str
    joined_at: datetime | None
    best: Mapping[str, float]  # exercise id -> best score 0..1 (absent = not attempted)
    passed: frozenset[str]
    lessons_read: int

    def completion(self, exercises: Sequence[str], lessons_total: int) -> float:
        """Return the share of lessons read and exercises passed, 0..1."""
        units = len(exercises) + lessons_total
        done = len(self.passed.intersection(exercises)) + min(self.lessons_read, lessons_total)
        return done / units if units else 1.0


def header(exercises: Sequence[str]) -> list[str]:
    """Return the CSV header: identity, completion, then one best-score column per exercise."""
    return ["name", "email", "joined_at", "completion_percent", "exercises_passed", "complete", *exercises]


def title_row(exercises: Sequence[str], titles: Mapping[str, str], zone: str) -> list[str]:
    """Return the second header line: each column in words, exercise titles under their ids, the time zone named."""
    return ["Name", "Email", f"Joined ({zone})", "Completion (%)", "Exercises passed", "Complete",
            *(f"{titles.get(e, e)} (best score, %)" for e in exercises)]


def percent(score: float | None) -> float | str:
    """A best score (0..1) as the percentage a spreadsheet shows (85.5); an exercise not attempted is empty."""
    return "" if score is None else round(score * 100, 1)


def as_record(row: GradebookRow, exercises: Sequence[str], lessons_total: int,
              rule: CompletionRule | None = None) -> dict:
    """Return the JSON-ready record for one learner; `complete` follows the course's rule (default: everything)."""
    completion = row.completion(exercises, lessons_total)
    passed = len(row.passed.intersection(exercises))
    complete = rule.met(row.lessons_read, passed) if rule else completion >= 1.0
    return {
        "name": row.name,
        "email": row.email,
        "joined_at": row.joined_at.isoformat() if row.joined_at else None,
        "completion_percent": round(completion * 100, 1),
        "exercises_passed": passed,
        "complete": complete,
        "best_scores": {eid: (round(row.best[eid], 4) if eid in row.best else None) for eid in exercises},
    }


def csv_stream(rows: Iterable[GradebookRow], exercises: Sequence[str], lessons_total: int,
               rule: CompletionRule | None = None, titles: Mapping[str, str] | None = None,
               zone: str = "UTC") -> Iterator[str]:
    """Yield the gradebook as CSV text, one line per chunk, with every text cell neutralised.

    Two header lines: the ids (stable column keys for scripts), then the same columns in words with exercise
    titles. Scores are percentages; times are in `zone` (the site's SITE_TIMEZONE), named in the second line.
    """
    buf = io.StringIO()
    writer = csv.writer(buf)
    tz = ZoneInfo(zone)

    def line(values: Iterable[object]) -> str:
        """Encode one row and hand back its text, reusing one small buffer."""
        buf.seek(0)
        buf.truncate()
        writer.writerow([neutralise(v) for v in values])
        return buf.getvalue()

    # A byte-order mark makes Excel read the file as UTF-8, so accented names survive the double-click.
    yield "\ufeff" + line(header(exercises))
    yield line(title_row(exercises, titles or {}, zone))
    for row in rows:
        rec = as_record(row, exercises, lessons_total, rule)
        scores = [percent(rec["best_scores"][e]) for e in exercises]
        # "2026-01-02 09:30:00" is a date-time to Excel and LibreOffice; ISO's "T...+00:00" stays text there.
        joined = row.joined_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if row.joined_at else ""
        yield line([rec["name"], rec["email"], joined, rec["completion_percent"],
                    rec["exercises_passed"], "yes" if rec["complete"] else "no", *scores])


def json_stream(rows: Iterable[GradebookRow], exercises: Sequence[str], lessons_total: int,
                meta: Mapping[str, object], rule: CompletionRule | None = None) -> Iterator[str]:
    """Yield one JSON document {..meta, "exercises": [...], "learners": [...]} a learner at a time."""
    head = dict(meta)
    head["exercises"] = list(exercises)
    opening = json.dumps(head)[:-1]  # drop the closing brace; the learners array goes inside
    yield opening + ', "learners": ['
    first = True
    for row in rows:
        yield ("" if first else ",\n") + json.dumps(as_record(row, exercises, lessons_total, rule))
        first = False
    yield "]}\n"


def cohort_rows(cohort_id: int, exercises: Sequence[str], lessons: Sequence[str],
                batch_size: int = BATCH_SIZE) -> Iterator[GradebookRow]:
    """Yield one GradebookRow per member, fetching learners a keyset page at a time with aggregates per page.

    Each page is three small queries (members, best scores, lesson reads), so memory depends on the page
    size, never on the size of the cohort.
    """
    last_id = 0
    while True:
        members = db.session.execute(
            select(User.id, User.display_name, User.email, CohortMembership.joined_at)
            .join(CohortMembership, CohortMembership.user_id == User.id)
            .where(CohortMembership.cohort_id == cohort_id, User.id > last_id)
            .order_by(User.id).limit(batch_size)
        ).all()
        if not members:
            return
        ids = [m.id for m in members]
        best: dict[int, dict[str, float]] = {uid: {} for uid in ids}
        passed: dict[int, set[str]] = {uid: set() for uid in ids}
        for uid, eid, score, ok in db.session.execute(
            # Best scores and passes as they count: a reviewer's override where there is one.
            select(Attempt.user_id, Attempt.exercise_id, func.max(effective_score()),
                   func.max(case((effective_passed().is_(True), 1), else_=0)))
            .where(Attempt.user_id.in_(ids), Attempt.status != "invalid", Attempt.exercise_id.in_(exercises))
            .group_by(Attempt.user_id, Attempt.exercise_id)
        ):
            best[uid][eid] = float(score)
            if ok:
                passed[uid].add(eid)
        reads = dict(db.session.execute(
            select(LessonProgress.user_id, func.count())
            .where(LessonProgress.user_id.in_(ids), LessonProgress.lesson_id.in_(lessons))
            .group_by(LessonProgress.user_id)
        ).all())
        for m in members:
            yield GradebookRow(m.id, m.display_name or m.email, m.email, m.joined_at, best[m.id],
                               frozenset(passed[m.id]), reads.get(m.id, 0))
        last_id = ids[-1]
