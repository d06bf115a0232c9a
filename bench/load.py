"""Load benchmark: the site under gunicorn (2 workers) against a bare Flask "hello" and a submit "ceiling".

The ceiling (bench/ceiling_app.py) does only a graded submit's essential work; submit is reported against it,
the lesson page against the site's own healthz, and every flow against hello, all measured in the same run.
The lesson and progress pages and the submit run again (`-history`) after every learner got 5,000 more attempts.

Run from anywhere with the project's virtualenv:

    .venv/bin/python bench/load.py                       # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/load.py

With DATABASE_URL set, the benchmark creates (and afterwards drops) a scratch database next to it, so the
database named in the URL is never written. Each flow runs for --seconds after a short warm-up, with
--connections client threads spread over --clients processes. The load generator shares the machine's cores
with the server, so its own cost is in every number, the ceiling included. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Run as a script: make the project importable without installing it.
sys.path.insert(0, str(REPO))

from tests.servers import Client, Gunicorn, gunicorn, scratch_database, site_env  # noqa: E402 - needs the path above

PASSWORD = "bench-password-123"
LESSON = "recapping-fit"
# A free-text exercise: the most expensive grader, and the submission a learner waits on longest.
EXERCISE = "rewrite-aggressive-close"
ANSWER = ("Thank you, Priya. Everything I heard today makes me even more keen on this role, especially the tenant "
          "survey work. Is there anything about my background that gives you pause? And what are the next steps "
          "in your process?")
# flow: (the flow of the same run it is measured against, the least ratio of requests per second).
TARGETS = {"submit": ("ceiling", 0.75), "lesson": ("healthz", 0.75)}
P99_TARGET_MS = 150.0
# Each site worker's resident memory once the server has handled this many requests.
RSS_TARGET_MB = 150.0
RSS_AFTER_REQUESTS = 10_000


@dataclass
class Flow:
    """A named request pattern: a per-connection set-up and the request it repeats."""

    name: str
    app_spec: str
    # setup(client, email) -> state handed to step; step(client, state) -> (status, body)
    setup: Callable[[Client, str], object]
    step: Callable[[Client, object], tuple[int, str]]
    ok_status: tuple[int, ...] = (200,)


def _get(path: str) -> Callable[[Client, object], tuple[int, str]]:
    """Return a step that GETs one path."""

    def step(client: Client, _state: object) -> tuple[int, str]:
        """GET the path."""
        status, _, body = client.request("GET", path)
        return status, body

    return step


def _no_setup(_client: Client, _email: str) -> None:
    """Flows that need no login."""
    return None


def _login_setup(client: Client, email: str) -> None:
    """Flows that act as a logged-in learner."""
    if client.login(email, PASSWORD) != 302:
        raise RuntimeError(f"login as {email} failed")


def _submit_setup(client: Client, email: str) -> str:
    """Log in and open the exercise once: its CSRF token serves every later submission of the session."""
    _login_setup(client, email)
    token, _ = client.form_page(f"/exercises/{EXERCISE}")
    return token


def _submit_step(client: Client, token: object) -> tuple[int, str]:
    """Post one graded answer with a fresh idempotency key, as a new submission of the form would."""
    form = {"csrf_token": str(token), "answer": ANSWER, "idempotency_key": uuid.uuid4().hex}
    status, _, body = client.request("POST", f"/exercises/{EXERCISE}", form)
    return status, body


def _ceiling_setup(client: Client, email: str) -> str:
    """Log in to the ceiling app and take its form's CSRF token."""
    _login_setup(client, email)
    token, _ = client.form_page("/form")
    return token


def _ceiling_step(client: Client, token: object) -> tuple[int, str]:
    """Post the same answer to the ceiling app, as the submit flow posts it to the site."""
    form = {"csrf_token": str(token), "answer": ANSWER, "idempotency_key": uuid.uuid4().hex}
    status, _, body = client.request("POST", "/submit", form)
    return status, body


FLOWS = {
    "hello": Flow("hello", "bench.hello_app:app", _no_setup, _get("/")),
    # A graded submit's essential work and nothing else (bench/ceiling_app.py): what submit is measured against.
    "ceiling": Flow("ceiling", "bench.ceiling_app:app", _ceiling_setup, _ceiling_step, ok_status=(303,)),
    # The site's cheapest request (anonymous, one "SELECT 1", no template) under every hook the site runs on
    # each request: the floor that any page of the site starts from, to compare the targets with.
    "healthz": Flow("healthz", "web:create_app()", _no_setup, _get("/healthz")),
    "lesson": Flow("lesson", "web:create_app()", _login_setup, _get(f"/lessons/{LESSON}")),
    "submit": Flow("submit", "web:create_app()", _submit_setup, _submit_step, ok_status=(303,)),
    "progress": Flow("progress", "web:create_app()", _login_setup, _get("/progress")),
    # The same flows again once every learner has HISTORY_ATTEMPTS more attempts: they must cost the same.
    "lesson-history": Flow("lesson-history", "web:create_app()", _login_setup, _get(f"/lessons/{LESSON}")),
    "progress-history": Flow("progress-history", "web:create_app()", _login_setup, _get("/progress")),
    # And a graded submit: storing one more attempt must not read the ones before it.
    "submit-history": Flow("submit-history", "web:create_app()", _submit_setup, _submit_step, ok_status=(303,)),
}
HISTORY_ATTEMPTS = 5000
# A page may cost at most this much more (CPU per request) for a learner with HISTORY_ATTEMPTS attempts.
HISTORY_TARGET = 1.10


@dataclass
class Tally:
    """What one load-generator process saw in the measured window."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    locked: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    served: int = 0  # requests sent, the warm-up's included (set-up logins are not counted)

    def add(self, other: Tally) -> None:
        """Merge another tally into this one."""
        self.latencies_ms.extend(other.latencies_ms)
        self.served += other.served
        self.errors += other.errors
        self.locked += other.locked
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n


@dataclass
class Phase:
    """When a process's connections start hammering: set once every connection of every process is set up."""

    ready: threading.Barrier
    go: threading.Event = field(default_factory=threading.Event)
    t0: float = 0.0


def _drive(flow: Flow, port: int, email: str, phase: Phase, warmup: float, seconds: float, tally: Tally,
           lock: threading.Lock) -> None:
    """One connection: set up (log in), wait for the common start, then repeat the flow's request."""
    client = Client(port)
    try:
        state = flow.setup(client, email)
    except Exception:
        phase.ready.abort()  # let the others stop waiting; the process reports the failure
        raise
    phase.ready.wait(timeout=300)
    phase.go.wait()
    warmup_end = phase.t0 + warmup
    end = warmup_end + seconds
    mine = Tally()
    while (now := time.perf_counter()) < end:
        try:
            status, body = flow.step(client, state)
        except (OSError, http.client.HTTPException):
            client.close()
            status, body = 599, ""
        took = (time.perf_counter() - now) * 1000
        mine.served += 1
        if now < warmup_end:
            continue
        mine.latencies_ms.append(took)
        mine.statuses[str(status)] = mine.statuses.get(str(status), 0) + 1
        mine.errors += status not in flow.ok_status
        mine.locked += "database is locked" in body
    client.close()
    with lock:
        tally.add(mine)


def _generator_process(flow_name: str, port: int, emails: list[str], all_ready: Any, warmup: float,
                       seconds: float, out: multiprocessing.Queue) -> None:
    """A load-generator process: one thread per connection; the merged tally goes back as JSON."""
    flow = FLOWS[flow_name]
    tally, lock = Tally(), threading.Lock()
    phase = Phase(ready=threading.Barrier(len(emails) + 1))
    threads = [threading.Thread(target=_drive, args=(flow, port, e, phase, warmup, seconds, tally, lock))
               for e in emails]
    for t in threads:
        t.start()
    # Logins are slow (argon2) and must not count: start only when every process has all its sessions.
    try:
        phase.ready.wait(timeout=300)
    except threading.BrokenBarrierError:
        all_ready.abort()
        raise SystemExit(f"{flow_name}: a connection failed to set up (see the traceback above)") from None
    all_ready.wait(timeout=300)
    phase.t0 = time.perf_counter()
    phase.go.set()
    for t in threads:
        t.join()
    out.put(json.dumps(tally.__dict__))


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def server_cpu_seconds(server: Gunicorn) -> float:
    """Return the CPU time (user + system) used so far by the gunicorn workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _workers(server):
        # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name) are utime and stime in ticks.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _workers(server: Gunicorn) -> list[str]:
    """The pids of the gunicorn master's worker processes."""
    master = server.proc.pid
    return Path(f"/proc/{master}/task/{master}/children").read_text().split()


def worker_memory_mb(server: Gunicorn) -> tuple[float, float]:
    """(largest RSS, largest PSS) of the gunicorn workers, in MB (10^6 bytes).

    RSS counts pages a worker shares with the master and its sibling as its own, which is what the target reads;
    PSS splits the shared pages among the processes that share them, the worker's fair share of the machine.
    """
    rss = pss = 0
    for pid in _workers(server):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                kib = int(value.split()[0])
                if key == "Rss":
                    rss = max(rss, kib)
                else:
                    pss = max(pss, kib)
    return rss * 1024 / 1e6, pss * 1024 / 1e6


def run_flow(flow_name: str, server: Gunicorn, emails: list[str], clients: int, warmup: float,
             seconds: float) -> dict:
    """Drive one flow with len(emails) connections over `clients` processes; return its summary."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    groups = [g for g in (emails[i::clients] for i in range(clients)) if g]
    all_ready = ctx.Barrier(len(groups) + 1)
    procs = [ctx.Process(target=_generator_process, args=(flow_name, server.port, g, all_ready, warmup, seconds, out))
             for g in groups]
    for p in procs:
        p.start()
    all_ready.wait(timeout=300)
    # The workers' own CPU per request, measured over the timed window only: unlike req/s it hardly moves
    # when other programs share the machine, so it is the figure to compare between runs.
    time.sleep(warmup)
    cpu_before = server_cpu_seconds(server)
    time.sleep(seconds)
    cpu_used = server_cpu_seconds(server) - cpu_before
    total = Tally()
    for _ in procs:
        total.add(Tally(**json.loads(out.get(timeout=warmup + seconds + 300))))
    for p in procs:
        p.join()
    latencies = total.latencies_ms
    rss_mb, pss_mb = worker_memory_mb(server)
    return {
        "flow": flow_name,
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) if latencies else float("nan"),
        "server_cpu_ms": cpu_used * 1000 / len(latencies) if latencies else float("nan"),
        "errors": total.errors,
        "locked": total.locked,
        "statuses": total.statuses,
        # Requests the server handled in all (warm-up included), and its workers' memory after them.
        "served": total.served,
        "worker_rss_mb": rss_mb,
        "worker_pss_mb": pss_mb,
    }


def create_learners(env: dict[str, str], emails: list[str]) -> None:
    """Create the benchmark's learners, each with a finished course behind them (every lesson, every exercise).

    One process does it all (the CLI would start the app once per account). A realistic history matters: the
    progress page reads every attempt of the learner.
    """
    code = (
        "import sys\n"
        "from web import create_app\n"
        "from web.services import attempts\n"
        "from web.services.accounts import create_user\n"
        "from web.services.progress import record_lesson_read\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    course = app.extensions['course']\n"
        "    for email in sys.argv[2:]:\n"
        "        user = create_user(email, sys.argv[1])\n"
        "        for lesson_id in course.lesson_order():\n"
        "            record_lesson_read(user, lesson_id)\n"
        "        for exercise in course.exercises.values():\n"
        "            answer = exercise.samples.passing[0]\n"
        "            attempts.submit(user, exercise, answer, attempts.new_idempotency_key())\n"
    )
    subprocess.run([sys.executable, "-c", code, PASSWORD, *emails], env=env, check=True, cwd=REPO)


def add_history_rows(course, user_ids: list[int], count: int) -> None:
    """Insert `count` more attempts per learner, spread over the course's exercises, and refresh their summaries."""
    # Imported here: the load driver itself never loads the app, only the processes it starts do.
    from sqlalchemy import insert

    from web.extensions import db
    from web.models import Attempt, utcnow
    from web.services import summaries

    exercises = course.exercise_order()
    now = utcnow()
    for uid in user_ids:
        rows = [{"user_id": uid, "exercise_id": exercises[n % len(exercises)], "answer": "x", "score": 0.5,
                 "passed": False, "status": "partial", "checks": [{"id": "c", "passed": False}],
                 "grader_version": "bench/1", "message": "", "answer_text": "", "created_at": now,
                 "idempotency_key": f"history-{uid}-{n}", "attempt_number": 1000 + n} for n in range(count)]
        db.session.execute(insert(Attempt), rows)
    for eid in exercises:
        summaries.refresh(db.session, eid, user_ids)
    db.session.commit()


def add_history(env: dict[str, str], emails: list[str], count: int) -> None:
    """Give every benchmark learner `count` more attempts, spread over the course's exercises, summaries refreshed."""
    code = (
        "import sys\n"
        "from sqlalchemy import select\n"
        "from bench.load import add_history_rows\n"
        "from web import create_app\n"
        "from web.extensions import db\n"
        "from web.models import User\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    ids = list(db.session.scalars(select(User.id).where(User.email.in_(sys.argv[2:]))))\n"
        "    add_history_rows(app.extensions['course'], ids, int(sys.argv[1]))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(count), *emails], env=env, check=True, cwd=REPO)


def report(results: list[dict], args: argparse.Namespace, backend: str) -> list[str]:
    """Print a table of the results, with each flow's ratio to its reference flow; return the missed targets."""
    by_name = {r["flow"]: r for r in results}
    print(f"\nbackend={backend} workers={args.workers} connections={args.connections} seconds={args.seconds} "
          f"cpus={os.cpu_count()} load={', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'flow':<18}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'locked':>8}{'x hello':>9}"
          f"{'x ceiling':>10}{'x healthz':>10}{'cpu ms/req':>12}{'served':>8}{'rss MB':>8}{'pss MB':>8}")
    missed = []

    def ratio(r: dict, name: str) -> float:
        """Requests per second relative to another flow of the same run (nan when it did not run)."""
        other = by_name.get(name)
        return r["rps"] / other["rps"] if other and other["rps"] else float("nan")

    for r in results:
        r["ratios"] = {ref: ratio(r, ref) for ref in ("hello", "ceiling", "healthz")}
        print(f"{r['flow']:<18}{r['rps']:>8.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8}{r['locked']:>8}"
              + "".join(f"{r['ratios'][ref]:>{w}.2f}" for ref, w in (("hello", 9), ("ceiling", 10), ("healthz", 10)))
              + f"{r['server_cpu_ms']:>12.2f}{r['served']:>8}{r['worker_rss_mb']:>8.0f}{r['worker_pss_mb']:>8.0f}")
        site = r["flow"] not in ("hello", "ceiling")
        if site and r["served"] >= RSS_AFTER_REQUESTS and r["worker_rss_mb"] > RSS_TARGET_MB:
            missed.append(f"{r['flow']}: a worker holds {r['worker_rss_mb']:.0f} MB after {r['served']:,} requests "
                          f"> {RSS_TARGET_MB:.0f} MB")
        if r["errors"] or r["locked"]:
            missed.append(f"{r['flow']}: {r['errors']} errors ({r['statuses']}), {r['locked']} 'database is locked'")
        if r["p99_ms"] > P99_TARGET_MS and r["flow"] in ("lesson", "progress", "submit"):
            missed.append(f"{r['flow']}: p99 {r['p99_ms']:.0f} ms > {P99_TARGET_MS:.0f} ms")
        if r["flow"] in TARGETS:
            ref, target = TARGETS[r["flow"]]
            if not r["ratios"][ref] >= target:
                missed.append(f"{r['flow']}: {r['ratios'][ref]:.2f} x {ref} < {target:.2f}")
        if r["flow"].endswith("-history") and r["flow"].removesuffix("-history") in by_name:
            base = by_name[r["flow"].removesuffix("-history")]
            grown = r["server_cpu_ms"] / base["server_cpu_ms"]
            r["history_cpu_ratio"] = grown
            print(f"{'':<18}CPU per request with {HISTORY_ATTEMPTS:,} more attempts: {grown:.2f} x {base['flow']}")
            if grown > HISTORY_TARGET:
                missed.append(f"{r['flow']}: {grown:.2f} x the CPU per request of {base['flow']} > {HISTORY_TARGET}")
    for line in missed:
        print(f"MISSED {line}")
    if not missed:
        print("all targets met")
    return missed


def main(argv: list[str] | None = None) -> int:
    """Set up, serve each flow, drive it, report; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per flow (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each flow")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    # The pages run before submit, which adds hundreds of attempts per learner; the -history flows then run the
    # same pages again after HISTORY_ATTEMPTS more per learner.
    parser.add_argument("--flows", help="comma-separated flows to run",
                        default="hello,healthz,ceiling,lesson,progress,submit,lesson-history,progress-history,submit-history")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    flows = [f for f in args.flows.split(",") if f]
    unknown = sorted(set(flows) - set(FLOWS))
    if unknown:
        parser.error(f"unknown flow(s) {', '.join(unknown)}; known: {', '.join(FLOWS)}")

    backend = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    emails = [f"bench{i}@example.org" for i in range(args.connections)]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, scratch_database(backend, Path(tmp)) as url:
        env = site_env(url, LOGIN_RATE_LIMIT="100000/minute")
        learners_made = history_added = False
        for name in flows:
            flow = FLOWS[name]
            with gunicorn(env, Path(tmp), workers=args.workers, app_spec=flow.app_spec, log_access=False) as server:
                if name != "hello" and not learners_made:
                    create_learners(env, emails)
                    learners_made = True
                if name.endswith("-history") and not history_added:
                    add_history(env, emails, HISTORY_ATTEMPTS)
                    history_added = True
                results.append(run_flow(name, server, emails, args.clients, args.warmup, args.seconds))
    missed = report(results, args, backend)
    if args.json:
        Path(args.json).write_text(json.dumps({"backend": backend, "results": results}, indent=2))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
