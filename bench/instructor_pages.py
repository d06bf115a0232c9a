"""Instructor pages benchmark: roster, item analysis and one exercise for a cohort of 10,000 learners.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/instructor_pages.py                        # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/instructor_pages.py
    .venv/bin/python bench/instructor_pages.py --write                # also update docs/performance.md

It seeds one cohort of N learners with about 17 attempts each on the shipped course's exercises (each with
rubric checks, some failed) and their lesson reads, fills the exercise summaries and learner totals the way
migrations 0007 and 0009 do (timed: that is the migrations' cost), then serves the pages in a fresh process and
reads that process's peak RSS during each page (VmHWM, reset before it). Each page is fetched once to warm up,
then --repeat times; the median is reported. The same process then runs the old computations from every
attempt, for a before/after ratio within one run. With DATABASE_URL set, a scratch PostgreSQL database is made
next to it and dropped. Targets: each page under 300 ms; serving them adds under 100 MiB to the loaded app.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from bench.clients import instructor_client  # noqa: E402 - needs the path fix above
from bench.graders import DOC, write_section  # noqa: E402 - needs the path fix above
from tests.servers import scratch_database  # noqa: E402
from web import create_app  # noqa: E402
from web.extensions import db  # noqa: E402
from web.manage import upgrade  # noqa: E402
from web.models import Attempt, Cohort, CohortMembership, LessonProgress, User, utcnow  # noqa: E402
from web.services import summaries  # noqa: E402

SECTION = "## Instructor pages"
TARGET_MS = 300.0
TARGET_RSS_MIB = 100.0
CHECKS = ("asks-for-job", "recaps-fit", "asks-next-steps", "thanks")


def seed(app, learners: int, rng: random.Random) -> tuple[int, int]:
    """Create an instructor, a cohort of `learners` members, their attempts and reads; return (cohort, owner)."""
    course = app.extensions["course"]
    exercises = course.exercise_order()
    lessons = course.lesson_order()
    now = utcnow()
    with app.app_context():
        owner = User(email="bench-instructor@example.org", display_name="Bench", role="instructor", password_hash="x")
        db.session.add(owner)
        cohort = Cohort(name="Bench intake", owner=owner, join_code="BNCH-1000")
        db.session.add(cohort)
        db.session.commit()
        for start in range(0, learners, 1000):
            batch = range(start, min(start + 1000, learners))
            db.session.execute(insert(User), [
                {"email": f"learner{i:06d}@example.org", "display_name": f"Learner {i:06d}", "password_hash": "x",
                 "role": "learner", "session_version": 1, "created_at": now} for i in batch])
            ids = list(db.session.scalars(select(User.id).where(User.email.in_(
                [f"learner{i:06d}@example.org" for i in batch]))))
            db.session.execute(insert(CohortMembership),
                               [{"cohort_id": cohort.id, "user_id": uid, "joined_at": now} for uid in ids])
            attempts, reads = [], []
            for uid in ids:
                for eid in exercises:
                    for n in range(rng.choice((0, 1, 1, 2))):
                        checks = [{"id": c, "passed": rng.random() < 0.7, "weight": 1.0,
                                   "message": f"Feedback on {c}."} for c in CHECKS]
                        score = sum(c["passed"] for c in checks) / len(checks)
                        attempts.append({"user_id": uid, "exercise_id": eid, "answer": f"answer {uid} {n}",
                                         "score": score, "passed": score >= 0.8, "status": "partial",
                                         "checks": checks, "grader_version": "bench/1", "message": "",
                                         "answer_text": "", "created_at": now, "idempotency_key": f"{uid}-{eid}-{n}",
                                         "attempt_number": n + 1})
                reads += [{"user_id": uid, "lesson_id": lid, "first_read_at": now, "last_read_at": now}
                          for lid in lessons if rng.random() < 0.7]
            db.session.execute(insert(Attempt), attempts)
            db.session.execute(insert(LessonProgress), reads)
            db.session.commit()
        return cohort.id, owner.id


def rss_mib(field: str = "VmRSS") -> float:
    """Return this process's resident set (VmRSS) or its peak since the last reset (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def old_way(app, cohort_id: int, exercise_id: str) -> dict[str, tuple[float, float]]:
    """Time and RSS-peak the computations the pages did before the summaries (from every attempt), for contrast."""
    from web.services import analytics, cohort_stats
    from web.services import cohorts as svc

    out = {}
    with app.app_context():
        cohort = db.session.get(Cohort, cohort_id)
        outline = analytics.outline_of(app.extensions["course"])
        jobs = {
            "Roster": lambda: analytics.roster(outline, svc.learner_rows(cohort), svc.roster_attempt_rows(cohort),
                                               svc.read_rows(cohort), utcnow()),
            "Item analysis": lambda: analytics.item_analysis(outline, list(svc.attempt_rows(cohort))),
            "One exercise": lambda: analytics.item_analysis(outline, [
                *(a for a in svc.attempt_rows(cohort) if a.exercise_id != exercise_id),
                *svc.attempt_rows(cohort, exercise_id=exercise_id, with_answers=True)]),
        }
        # The roster page before it sorted in SQL: every member's line from the summaries, sorted in Python.
        jobs["Roster sorted in Python"] = lambda: analytics.sort_and_filter(analytics.roster_from_counts(
            outline, svc.learner_rows(cohort), cohort_stats.roster_counts(cohort, outline), utcnow()),
            "completion", "desc")[:100]
        jobs["Roster sorted in SQL"] = lambda: cohort_stats.roster(cohort, outline, utcnow(), sort="completion",
                                                                   order="desc")
        for name, job in jobs.items():
            reset_peak_rss()
            start = time.perf_counter()
            job()
            out[name] = ((time.perf_counter() - start) * 1000, rss_mib("VmHWM"))
            db.session.expunge_all()
    return out


def serve_pages(url: str, cohort_id: int, owner_id: int, repeat: int) -> dict:
    """In this (fresh) process: fetch each page, warm then `repeat` times; return medians and RSS peaks."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    client = instructor_client(app, owner_id)
    first = app.extensions["course"].exercise_order()[0]
    pages = {"Roster": f"/instructor/cohorts/{cohort_id}",
             "Roster sorted by completion": f"/instructor/cohorts/{cohort_id}?sort=completion&order=desc",
             "Item analysis": f"/instructor/cohorts/{cohort_id}/items",
             "One exercise": f"/instructor/cohorts/{cohort_id}/items/{first}"}
    client.get("/healthz")
    rss_loaded = rss_mib()
    out, peaks = {}, {}
    for name, path in pages.items():
        times = []
        reset_peak_rss()
        for _ in range(repeat + 1):
            start = time.perf_counter()
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            response.get_data()
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times[1:]) * 1000
        peaks[name] = rss_mib("VmHWM")
    return {"ms": out, "rss_loaded": rss_loaded, "rss_peak": peaks, "old": old_way(app, cohort_id, first)}


def render(kind: str, learners: int, attempts: int, summaries_n: int, fill_s: float, figures: dict) -> str:
    """The Markdown lines for one backend."""
    lines = [f"**{kind}** ({learners:,} learners, {attempts:,} attempts, {summaries_n:,} summaries; filling the "
             f"summaries and the learners' totals, as migrations 0007 and 0009 do, took {fill_s:.1f} s"
             f"{'; then VACUUM ANALYZE, as autovacuum does on a live database' if kind == 'postgresql' else ''}):", "",
             "| page | median ms | process peak RSS MiB | before: ms from every attempt | before: peak RSS MiB | "
             "speed-up | target < 300 ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, ms in figures["ms"].items():
        old = figures["old"].get(name)
        before = f"{old[0]:.0f} | {old[1]:.0f} | {old[0] / ms:.1f}x" if old else " | | "
        lines.append(f"| {name} | {ms:.0f} | {figures['rss_peak'][name]:.0f} | {before} | "
                     f"{'met' if ms < TARGET_MS else 'missed'} |")
    python_ms, sql_ms = (figures["old"][f"Roster sorted in {how}"][0] for how in ("Python", "SQL"))
    lines += ["", f"Sorted by completion, the roster's computation alone (no page around it) took {sql_ms:.0f} ms "
              f"sorted and paged in SQL, against {python_ms:.0f} ms the way the page did it before (every member's "
              f"line built from the summaries, then sorted in Python): {python_ms / sql_ms:.1f}x, in the same "
              "process."]
    worst = max(figures["rss_peak"].values()) - figures["rss_loaded"]
    lines += ["", f"The serving process holds {figures['rss_loaded']:.0f} MiB with the app loaded (the course and "
              f"the graders' lexicons); serving the pages adds at most {worst:.0f} MiB to that "
              f"(target < {TARGET_RSS_MIB:.0f} MiB: {'met' if worst < TARGET_RSS_MIB else 'missed'}). The \"before\" "
              "columns run the old computations (every attempt read through `analytics.roster` / "
              "`analytics.item_analysis`) in the same process, just after, for a ratio that the machine's load "
              "moves less than the times themselves.", ""]
    return "\n".join(lines)


def settle(url: str) -> None:
    """On PostgreSQL, vacuum and analyse after the fill, as autovacuum soon does on a live database.

    Right after a bulk fill every rewritten row still has its old version and the planner has no statistics, so
    pages timed then measure the minute after a migration, not the site. SQLite is left as the site leaves it
    (nothing runs ANALYZE there).
    """
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def run(kind: str, learners: int, seed_value: int, repeat: int) -> str:
    """Seed one backend, fill the summaries, measure the pages in a child process; return its Markdown."""
    with tempfile.TemporaryDirectory() as tmp, scratch_database(kind, Path(tmp)) as url:
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        cohort_id, owner_id = seed(app, learners, random.Random(seed_value))
        with app.app_context():
            start = time.perf_counter()
            summaries.refresh_all(db.session)
            db.session.commit()
            fill_s = time.perf_counter() - start
            attempts = db.session.scalar(select(func.count()).select_from(Attempt))
            summaries_n = db.session.scalar(select(func.count()).select_from(summaries._S))
        app.extensions["db_engine"].dispose()
        settle(url)
        child = subprocess.run(
            [sys.executable, __file__, "--serve", url, str(cohort_id), str(owner_id), "--repeat", str(repeat)],
            check=True, capture_output=True, text=True)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    return render(kind, learners, attempts, summaries_n, fill_s, figures)


def main(argv: list[str] | None = None) -> int:
    """Measure on SQLite (and PostgreSQL when DATABASE_URL is set); print and optionally record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000, help="cohort size (default 10,000)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the generated attempts")
    parser.add_argument("--repeat", type=int, default=5, help="timed fetches of each page")
    parser.add_argument("--write", action="store_true", help="update the Instructor pages section of the doc")
    parser.add_argument("--serve", nargs=3, metavar=("URL", "COHORT", "OWNER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve_pages(args.serve[0], int(args.serve[1]), int(args.serve[2]), args.repeat)))
        return 0
    kinds = ["sqlite"] + (["postgresql"] if os.environ.get("DATABASE_URL") else [])
    parts = [run(kind, args.learners, args.seed, args.repeat) for kind in kinds]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = "\n".join([
        SECTION, "",
        "Roster, item analysis and one exercise's page for one cohort, read from the exercise summaries "
        "(`web/services/cohort_stats.py`), fetched through the Flask test client by its instructor "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{load} at the end: other programs shared the machine, so absolute times are noisy).", "",
        *parts,
        "Command (from the repository root): `DATABASE_URL=postgresql+psycopg://... .venv/bin/python "
        "bench/instructor_pages.py --write`", ""])
    print(text)
    if args.write:
        write_section(text, DOC, SECTION)
        print(f"updated {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
