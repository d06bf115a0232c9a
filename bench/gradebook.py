"""Gradebook export benchmark: memory and time to stream a 10,000-learner cohort's CSV and JSON.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/gradebook.py            # print the figures
    .venv/bin/python bench/gradebook.py --write    # also update the "## Gradebook" section of docs/performance.md

It builds a throw-away SQLite database (migrated with Alembic) holding one cohort of N learners with attempts
on every exercise of the shipped course, then downloads the export through the Flask test client as an
instructor would, reading the stream chunk by chunk without keeping it. Python heap use is measured with
tracemalloc (peak during the download, above what was allocated before it); process peak RSS comes from
resource.getrusage. For contrast it also measures the peak when the same rows are built into one list first,
which is what a non-streaming export would do. Target: the streamed peak stays flat (well under 20 MiB of
Python heap) whatever the cohort size.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from bench.clients import instructor_client  # noqa: E402 - needs the path fix above
from bench.graders import DOC, write_section  # noqa: E402

# One cohort seeder for both benches: members, attempts with rubric checks, lesson reads.
from bench.instructor_pages import seed  # noqa: E402
from web import create_app  # noqa: E402
from web.extensions import db  # noqa: E402
from web.manage import upgrade  # noqa: E402
from web.models import Attempt  # noqa: E402
from web.services import gradebook  # noqa: E402

SECTION = "## Gradebook"
TARGET_PEAK_MIB = 20.0
MIB = 1024 * 1024


def download(client, url: str) -> int:
    """GET a streamed export and read it chunk by chunk without keeping it; return its size in bytes."""
    response = client.get(url)
    assert response.status_code == 200 and response.is_streamed, response.status_code
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    return size


def stream_figures(app, url: str, owner_id: int) -> tuple[float, float, int]:
    """Return (seconds, tracemalloc peak MiB above baseline, bytes) for one export.

    Timed and traced in separate downloads: tracemalloc slows allocation-heavy code several times over.
    """
    client = instructor_client(app, owner_id)
    start = time.perf_counter()
    size = download(client, url)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    download(client, url)
    peak = (tracemalloc.get_traced_memory()[1] - base) / MIB
    tracemalloc.stop()
    return seconds, peak, size


def materialised_peak(app, cohort_id: int) -> float:
    """Peak MiB when every gradebook row is built into one list first (what streaming avoids)."""
    course = app.extensions["course"]
    with app.app_context():
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        rows = list(gradebook.cohort_rows(cohort_id, course.exercise_order(), course.lesson_order()))
        text = "".join(gradebook.csv_stream(rows, course.exercise_order(), len(course.lesson_order())))
        peak = (tracemalloc.get_traced_memory()[1] - base) / MIB
        tracemalloc.stop()
        del rows, text
    return peak


def render(learners: int, attempts: int, results: dict[str, tuple[float, float, int]], listed: float,
           rss_mib: float) -> str:
    """The Markdown section written to docs/performance.md (also printed)."""
    lines = [
        SECTION,
        "",
        f"One cohort of {learners:,} learners with {attempts:,} attempts on the shipped course's exercises, in "
        "SQLite, downloaded through the Flask test client by its instructor and read chunk by chunk "
        f"({platform.python_implementation()} {platform.python_version()}, {platform.machine()}).",
        "",
        "| export | time | Python heap peak during the download | size |",
        "| --- | --- | --- | --- |",
    ]
    for fmt, (seconds, peak, size) in results.items():
        lines.append(f"| {fmt} (streamed) | {seconds:.2f} s | {peak:.1f} MiB | {size / MIB:.1f} MiB |")
    lines += [
        f"| CSV built in one list first (for contrast) | | {listed:.1f} MiB | |",
        "",
        "The instructor pages of such a cohort read the exercise summaries: see Instructor pages below "
        "(`bench/instructor_pages.py`).",
        "",
        f"Process peak RSS over the whole run (database seeding included): {rss_mib:.0f} MiB. "
        f"Target: streamed heap peak under {TARGET_PEAK_MIB:.0f} MiB, independent of cohort size "
        f"(rows are fetched {gradebook.BATCH_SIZE} learners per query).",
        "",
        "Command (from the repository root): `.venv/bin/python bench/gradebook.py --write`",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the database, measure both exports, print and optionally record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000, help="cohort size (default 10,000)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the generated attempts")
    parser.add_argument("--write", action="store_true", help="update the Gradebook section of docs/performance.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{os.path.join(tmp, 'bench.sqlite3')}"
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        cohort_id, owner_id = seed(app, args.learners, random.Random(args.seed))
        with app.app_context():
            attempts = db.session.scalar(select(func.count()).select_from(Attempt))
        results = {
            fmt.upper(): stream_figures(app, f"/instructor/cohorts/{cohort_id}/gradebook.{fmt}", owner_id)
            for fmt in ("csv", "json")
        }
        listed = materialised_peak(app, cohort_id)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    text = render(args.learners, attempts, results, listed, rss_mib)
    print(text)
    if args.write:
        write_section(text, DOC, SECTION)
        print(f"updated {DOC.relative_to(REPO)}")
    worst = max(peak for _s, peak, _n in results.values())
    if worst >= TARGET_PEAK_MIB:
        print(f"streamed heap peak {worst:.1f} MiB is over the {TARGET_PEAK_MIB:.0f} MiB target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
