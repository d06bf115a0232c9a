"""Regrade benchmark: every exercise over 100,000 stored attempts in a real database, as `course regrade --all` runs.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/regrade.py                  # SQLite in a temp dir, 100,000 attempts
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/regrade.py
    .venv/bin/python bench/regrade.py --write          # also update the "## Regrade" section of docs/performance.md

It stores one attempt per (learner, exercise) of the shipped course, the answers drawn from each exercise's
samples, every learner with a shuffle seed (so ordering exercises replay the order each learner saw), and a
stored result that is deliberately stale. Then it regrades every exercise twice: the first run changes every
grade (audit rows, attempt updates and summary refreshes all written), the second changes none (the common
case after a rule edit that moves few grades). Target: under 20 s for 100,000 attempts on SQLite.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select  # noqa: E402

import graders  # noqa: E402
from bench.graders import DOC, write_section  # noqa: E402 - needs the path fix above
from tests.servers import scratch_database  # noqa: E402
from web import create_app  # noqa: E402
from web.extensions import db  # noqa: E402
from web.manage import upgrade  # noqa: E402
from web.models import Attempt, ExerciseState, User, new_shuffle_seed, utcnow  # noqa: E402
from web.services import summaries  # noqa: E402
from web.services.regrade import regrade_course  # noqa: E402

SECTION = "## Regrade"
TARGET_S = 20.0


def seed(app, count: int, rng: random.Random) -> None:
    """Store `count` attempts, one per (learner, exercise), with stale results, and every learner's seeds."""
    course = app.extensions["course"]
    exercises = [course.exercises[e] for e in course.exercise_order()]
    learners = -(-count // len(exercises))
    now = utcnow()
    stored = 0
    with app.app_context():
        for start in range(0, learners, 1000):
            batch = range(start, min(start + 1000, learners))
            db.session.execute(insert(User), [
                {"email": f"regrade{i:06d}@example.org", "display_name": "", "password_hash": "x",
                 "role": "learner", "session_version": 1, "created_at": now} for i in batch])
            ids = list(db.session.scalars(select(User.id).where(User.email.in_(
                [f"regrade{i:06d}@example.org" for i in batch]))))
            attempts, states = [], []
            for uid in ids:
                for ex in exercises:
                    if stored >= count:
                        break
                    stored += 1
                    answer = rng.choice(list(ex.samples.passing) + list(ex.samples.failing))
                    states.append({"user_id": uid, "exercise_id": ex.id, "shuffle_seed": new_shuffle_seed()})
                    attempts.append({"user_id": uid, "exercise_id": ex.id, "answer": answer, "score": -1.0,
                                     "passed": False, "status": "stale", "checks": [], "grader_version": "old",
                                     "message": "", "answer_text": "", "created_at": now,
                                     "idempotency_key": f"r{uid}-{ex.id}", "attempt_number": 1})
            if attempts:
                db.session.execute(insert(Attempt), attempts)
                db.session.execute(insert(ExerciseState), states)
            db.session.commit()
        summaries.refresh_all(db.session)
        db.session.commit()


def regrade_all(app, workers: int) -> tuple[float, float, int, int]:
    """Regrade every exercise; return (wall seconds, CPU seconds of this process, attempts regraded, changed)."""
    course = app.extensions["course"]
    regraded = changed = 0
    with app.app_context():
        start, cpu = time.perf_counter(), time.process_time()
        for report in regrade_course(course, workers=workers):
            regraded += report.regraded
            changed += report.changed
        return time.perf_counter() - start, time.process_time() - cpu, regraded, changed


def grading_only(app) -> tuple[float, float]:
    """(Wall, CPU) seconds to grade the same stored answers with no database: the floor a regrade cannot go under."""
    course = app.extensions["course"]
    with app.app_context():
        rows = [(course.exercises[eid], answer) for eid, answer in db.session.execute(
            select(Attempt.exercise_id, Attempt.answer).order_by(Attempt.id))]
    start, cpu = time.perf_counter(), time.process_time()
    for ex, answer in rows:
        graders.grade(ex.type, ex.spec, answer, graders.Context(pass_threshold=ex.pass_threshold))
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    """Seed, regrade twice, print and optionally record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=100_000, help="stored attempts (default 100,000)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="grading processes, as `course regrade --workers` (default: one per core)")
    parser.add_argument("--write", action="store_true", help="update the Regrade section of docs/performance.md")
    args = parser.parse_args(argv)
    kind = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, scratch_database(kind, Path(tmp)) as url:
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        seed(app, args.attempts, random.Random(args.seed))
        changing = regrade_all(app, args.workers)
        unchanged = regrade_all(app, args.workers)
        floor = grading_only(app)
        app.extensions["db_engine"].dispose()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = [("every grade changes", changing), ("no grade changes", unchanged)]
    text = "\n".join([
        SECTION, "",
        "`regrade_course` (what `course regrade --all` runs) over every exercise of the shipped course, "
        f"{args.attempts:,} stored attempts in {kind} "
        f"(one per learner and exercise, answers from the exercises' samples, every learner with a shuffle seed), "
        f"{platform.python_implementation()} {platform.python_version()}, {args.workers} grading "
        f"process{'es' if args.workers > 1 else ' (this one)'} on {os.cpu_count()} cores, load average {load} at the "
        "end. CPU s is this process's own: with grading processes, their CPU is not in it.", "",
        "| run | wall s | CPU s | attempts | changed | CPU × grading alone | target (wall) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *[f"| {name} | {s:.1f} | {c:.1f} | {n:,} | {k:,} | {c / floor[1]:.2f} | < {TARGET_S:.0f} s: "
          f"{'met' if s < TARGET_S else 'MISSED'} |" for name, (s, c, n, k) in rows],
        f"| grading the same answers alone (no database, one process) | {floor[0]:.1f} | {floor[1]:.1f} | "
        f"{args.attempts:,} | | 1.00 | |",
        "",
        "Each page of 500 attempts reads its learners' seeds in one query, kept in a dict (the session's identity map "
        "holds weak references, so a prefetch into it was dropped and each attempt read its seed again), and builds "
        "one grading context per page, or one per learner for ordering exercises, whose context is the order shown.",
        "",
        "Command (from the repository root): `.venv/bin/python bench/regrade.py --write`", ""])
    print(text)
    if args.write:
        write_section(text, DOC, SECTION)
        print(f"updated {DOC.relative_to(REPO)}")
    return 0 if max(changing[0], unchanged[0]) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
