"""Course loading benchmark: what the site pays at start-up, and what a lesson page pays to render its Markdown.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/course_load.py

"Cold" figures come from fresh interpreters (imports and the graders' one-off rule compilation included),
because the loader and the text grader cache inside a process. Target: a cold load of the shipped course
well under a second (the site loads once per worker at start-up).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course.loader import load_course  # noqa: E402 - needs the path fix above
from course.render import render_markdown, sanitised_html  # noqa: E402

COLD_RUNS = 5
WARM_RUNS = 20
TARGET_COLD_SECONDS = 1.0
COLD_SNIPPET = (
    "import time; t = time.perf_counter(); from course.loader import load_course; load_course(); "
    "print(time.perf_counter() - t)"
)


def cold_load_seconds() -> list[float]:
    """Time import + load_course() in fresh interpreters."""
    times = []
    for _ in range(COLD_RUNS):
        out = subprocess.run([sys.executable, "-c", COLD_SNIPPET], cwd=REPO, capture_output=True, text=True,
                             check=True)
        times.append(float(out.stdout.strip()))
    return times


def warm(fn, runs: int = WARM_RUNS) -> float:
    """Median seconds of `fn()` over several runs in this process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    """Print the figures; exit 1 when the cold load misses its target."""
    cold = statistics.median(cold_load_seconds())
    course = load_course()
    warm_load = warm(load_course)
    with_samples = warm(lambda: load_course(check_samples=True), runs=5)
    bodies = [lesson.body for lesson in course.lessons.values()]

    def render_all() -> None:
        """Render every lesson body with a trivial resolver."""
        for body in bodies:
            render_markdown(body, lambda kind, ident: f"/{kind}s/{ident}")

    sanitised_html.cache_clear()
    start = time.perf_counter()
    render_all()
    render_cold = time.perf_counter() - start
    render_warm = warm(render_all)
    print(f"course: {len(course.modules)} modules, {len(course.lessons)} lessons, {len(course.exercises)} exercises")
    print(f"cold load (fresh interpreter, imports included): {cold * 1000:8.1f} ms  (target < "
          f"{TARGET_COLD_SECONDS * 1000:.0f} ms)")
    print(f"warm load_course():                              {warm_load * 1000:8.1f} ms")
    print(f"warm load_course(check_samples=True):            {with_samples * 1000:8.1f} ms")
    print(f"render all {len(bodies)} lesson bodies, first time:         {render_cold * 1000:8.1f} ms")
    print(f"render all {len(bodies)} lesson bodies, cached:             {render_warm * 1000:8.1f} ms")
    return 0 if cold < TARGET_COLD_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
