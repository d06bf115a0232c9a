"""Load benchmark: the site under gunicorn (2 workers) against a bare Flask "hello" served the same way.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/load.py                       # SQLite in a temp dir
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/load.py

With DATABASE_URL set, the benchmark creates (and afterwards drops) a scratch database next to it, so the
database named in the URL is never written. Each flow runs for --seconds after a short warm-up, with
--connections client threads spread over --clients processes (the load generator shares the machine's cores
with the server, so its own cost is in every number, the ceiling included).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-123"
LESSON = "recapping-fit"
# A text exercise: the most expensive grader, and the one a learner waits on.
EXERCISE = "rewrite-aggressive-close"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TARGETS = {"submit": 0.40, "lesson": 0.60}
P99_TARGET_MS = 150.0


def free_port() -> int:
    """Return a TCP port on loopback that nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive HTTP connection with a cookie jar, reconnecting when the server closes it."""

    def __init__(self, port: int):
        """Remember where the server is; connect lazily."""
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        """Send one request and return (status, body); retries once on a connection the server had closed."""
        body = urlencode(form) if form is not None else None
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for retry in (True, False):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read().decode("utf-8", "replace")
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self.close()
                if retry:
                    continue
                raise
            for header in resp.headers.get_all("Set-Cookie") or ():
                jar = SimpleCookie()
                jar.load(header)
                self.cookies.update({k: m.value for k, m in jar.items()})
            if resp.will_close:
                self.close()
            return resp.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def csrf(self, path: str) -> str:
        """GET a page and return the CSRF token of its form."""
        status, html = self.request("GET", path)
        match = CSRF_INPUT.search(html)
        if status != 200 or not match:
            raise RuntimeError(f"GET {path} gave {status} with no CSRF token")
        return match.group(1)

    def login(self, email: str) -> None:
        """Log in through the real form."""
        token = self.csrf("/login")
        status, _ = self.request("POST", "/login", {"email": email, "password": PASSWORD, "csrf_token": token})
        if status not in (302, 303):
            raise RuntimeError(f"login as {email} gave {status}")


@dataclass
class Flow:
    """A named request pattern: a per-connection set-up and the request it repeats."""

    name: str
    server: str  # "site" or "hello"
    # setup(client, user_email) -> state passed to step; step(client, state) -> (status, body)
    setup: Callable[[Client, str], object]
    step: Callable[[Client, object], tuple[int, str]]
    ok_status: tuple[int, ...] = (200,)


def _no_setup(_client: Client, _email: str) -> None:
    """Flows that need no login."""
    return None


def _login_setup(client: Client, email: str) -> None:
    """Flows that act as a logged-in learner."""
    client.login(email)


def _submit_setup(client: Client, email: str) -> str:
    """Log in and fetch the exercise's form once: its CSRF token serves every later submission."""
    client.login(email)
    return client.csrf(f"/exercises/{EXERCISE}")


def _submit_step(client: Client, token: object) -> tuple[int, str]:
    """Post one graded answer with a fresh idempotency key, as a new submission from the form would."""
    form = {
        "csrf_token": str(token),
        "answer": "Thank you for your time today. I enjoyed learning about the team, and from what we discussed I "
                  "believe my experience fits the role well. Is there anything that would hold you back from moving "
                  "me forward, and what are the next steps?",
        "idempotency_key": uuid.uuid4().hex,
    }
    return client.request("POST", f"/exercises/{EXERCISE}", form)


FLOWS = {
    "hello": Flow("hello", "hello", _no_setup, lambda c, _s: c.request("GET", "/")),
    "lesson": Flow("lesson", "site", _login_setup, lambda c, _s: c.request("GET", f"/lessons/{LESSON}")),
    "submit": Flow("submit", "site", _submit_setup, _submit_step, ok_status=(302, 303)),
    "progress": Flow("progress", "site", _login_setup, lambda c, _s: c.request("GET", "/progress")),
}


@dataclass
class Tally:
    """What one load-generator process saw in the measured window."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    locked: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def _drive(flow: Flow, port: int, email: str, warmup_end: float, end: float, tally: Tally,
           lock: threading.Lock) -> None:
    """One connection: set up, then repeat the flow's request until `end`, timing only after warm-up."""
    client = Client(port)
    state = flow.setup(client, email)
    mine = Tally()
    while (now := time.perf_counter()) < end:
        try:
            status, body = flow.step(client, state)
        except (OSError, http.client.HTTPException):
            status, body = 599, ""
        took = (time.perf_counter() - now) * 1000
        if now < warmup_end:
            continue
        mine.latencies_ms.append(took)
        mine.statuses[status] = mine.statuses.get(status, 0) + 1
        if status not in flow.ok_status:
            mine.errors += 1
        if "database is locked" in body:
            mine.locked += 1
    client.close()
    with lock:
        tally.latencies_ms.extend(mine.latencies_ms)
        tally.errors += mine.errors
        tally.locked += mine.locked
        for code, n in mine.statuses.items():
            tally.statuses[code] = tally.statuses.get(code, 0) + n


def _generator_process(flow_name: str, port: int, emails: list[str], start: float, warmup: float, seconds: float,
                       out: multiprocessing.Queue) -> None:
    """A load-generator process: one thread per connection, results sent back as JSON."""
    flow = FLOWS[flow_name]
    tally, lock = Tally(), threading.Lock()
    warmup_end = start + warmup
    threads = [threading.Thread(target=_drive, args=(flow, port, e, warmup_end, warmup_end + seconds, tally, lock))
               for e in emails]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(json.dumps(tally.__dict__))


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def run_flow(flow_name: str, port: int, emails: list[str], clients: int, warmup: float, seconds: float) -> dict:
    """Drive one flow with len(emails) connections over `clients` processes; return its summary."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    # Processes start together; the set-up (logins) happens before the warm-up ends.
    start = time.perf_counter() + 0.5
    groups = [emails[i::clients] for i in range(clients)]
    procs = [ctx.Process(target=_generator_process, args=(flow_name, port, g, start, warmup, seconds, out))
             for g in groups if g]
    for p in procs:
        p.start()
    parts = [json.loads(out.get(timeout=warmup + seconds + 120)) for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for part in parts for x in part["latencies_ms"]]
    statuses: dict[str, int] = {}
    for part in parts:
        for code, n in part["statuses"].items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    return {
        "flow": flow_name,
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) if latencies else float("nan"),
        "errors": sum(p["errors"] for p in parts),
        "locked": sum(p["locked"] for p in parts),
        "statuses": statuses,
    }


@contextmanager
def scratch_database(base_url: str | None, workdir: Path) -> Iterator[str]:
    """Yield an empty database URL: a SQLite file in workdir, or a throwaway PostgreSQL database."""
    if not base_url:
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    from sqlalchemy import create_engine, text  # noqa: PLC0415 - only the PostgreSQL run needs it
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from web.extensions import normalise_database_url  # noqa: PLC0415

    base = make_url(normalise_database_url(base_url))
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(env: dict[str, str], emails: list[str]) -> None:
    """Migrate the scratch database and create the benchmark's learners."""
    subprocess.run([str(BIN / "course"), "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
    code = (
        "import sys\n"
        "from web import create_app\n"
        "from web.services.accounts import create_user\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    for email in sys.argv[2:]:\n"
        "        create_user(email, sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, PASSWORD, *emails], env=env, check=True, cwd=REPO)


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int, logfile: Path) -> Iterator[int]:
    """Serve app_spec with gunicorn on a free loopback port; yield the port; stop it afterwards."""
    port = free_port()
    cmd = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
           "--pythonpath", f"{REPO},{REPO / 'bench'}", "--error-logfile", str(logfile), app_spec]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz" if app_spec.startswith("web") else "/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {app_spec} did not start; see {logfile}")
            time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def report(results: list[dict], hello_rps: float, args: argparse.Namespace, backend: str) -> list[str]:
    """Print a table of the results and return the missed targets."""
    print(f"\nbackend={backend} workers={args.workers} connections={args.connections} seconds={args.seconds}")
    print(f"{'flow':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'locked':>8}{'x hello':>9}")
    missed = []
    for r in results:
        ratio = r["rps"] / hello_rps if hello_rps else float("nan")
        print(f"{r['flow']:<10}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8}{r['locked']:>8}"
              f"{ratio:>9.2f}")
        if r["errors"] or r["locked"]:
            missed.append(f"{r['flow']}: {r['errors']} errors ({r['statuses']}), {r['locked']} 'database is locked'")
        if r["p99_ms"] > P99_TARGET_MS:
            missed.append(f"{r['flow']}: p99 {r['p99_ms']:.0f} ms > {P99_TARGET_MS:.0f} ms")
        target = TARGETS.get(r["flow"])
        if target is not None and ratio < target:
            missed.append(f"{r['flow']}: {ratio:.2f} x hello < {target:.2f}")
    for line in missed:
        print(f"MISSED {line}")
    if not missed:
        print("all targets met")
    return missed


def main(argv: list[str] | None = None) -> int:
    """Set up, serve, drive every flow, report; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per flow (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each flow")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--flows", default="hello,lesson,submit,progress", help="comma-separated flows to run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    flows = [f for f in args.flows.split(",") if f]
    unknown = sorted(set(flows) - set(FLOWS))
    if unknown:
        parser.error(f"unknown flow(s) {', '.join(unknown)}; known: {', '.join(FLOWS)}")

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    base_url = os.environ.get("DATABASE_URL")
    backend = "postgresql" if base_url else "sqlite"
    emails = [f"bench{i}@example.org" for i in range(args.connections)]
    try:
        with scratch_database(base_url, workdir) as url:
            env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=uuid.uuid4().hex, APP_ENV="production",
                       RATELIMIT_STORAGE_URI="memory://", LOGIN_RATE_LIMIT="100000/minute", PYTHONPATH=str(REPO))
            if any(FLOWS[name].server == "site" for name in flows):
                prepare(env, emails)
            results = []
            hello_rps = 0.0
            for name in flows:
                spec = "hello_app:app" if FLOWS[name].server == "hello" else "web:create_app()"
                with gunicorn(spec, env, args.workers, workdir / f"{name}.log") as port:
                    result = run_flow(name, port, emails, args.clients, args.warmup, args.seconds)
                if name == "hello":
                    hello_rps = result["rps"]
                results.append(result)
            missed = report(results, hello_rps, args, backend)
            if args.json:
                Path(args.json).write_text(json.dumps({"backend": backend, "results": results}, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
