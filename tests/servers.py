"""Real servers for the tests that need them: gunicorn with several workers, scratch databases, a raw HTTP client.

Used by the attack and reliability tests (and bench/load.py): what they check only shows up with separate
worker processes sharing one database, which the Flask test client cannot give.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from tests.conftest import scratch_postgres

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KEY_INPUT = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"')
# The first option of a choice form: its value is the learner's own token for that option, read from the page.
CHOICE_INPUT = re.compile(r'name="answer"[^>]*value="([^"]+)"')
# Each gunicorn access-log line: worker pid, status, method and path (to see which worker served what).
ACCESS_LOG_FORMAT = "%(p)s %(s)s %(m)s %(U)s"


def free_port() -> int:
    """Return a TCP port on loopback that nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One HTTP connection with its own cookie jar; never follows redirects; reconnects when closed."""

    def __init__(self, port: int):
        """Remember where the server is; connect lazily."""
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        """Send one request; return (status, headers, body text)."""
        payload = body if body is not None else (urlencode(form, doseq=True).encode() if form is not None else None)
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if form is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        while True:
            # Only a kept-alive connection the server may have dropped is worth a second try; a request that
            # failed on a fresh connection is reported (resending a POST could store it twice).
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=payload, headers=sent)
                resp = self.conn.getresponse()
                data = resp.read().decode("utf-8", "replace")
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self.close()
                if reused:
                    continue
                raise
            for header in resp.headers.get_all("Set-Cookie") or ():
                jar = SimpleCookie()
                jar.load(header)
                self.cookies.update({k: m.value for k, m in jar.items()})
            if resp.will_close:
                self.close()
            return resp.status, dict(resp.headers.items()), data

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def form_page(self, path: str) -> tuple[str, str]:
        """GET a page with a form; return (its CSRF token, its HTML)."""
        status, _, html = self.request("GET", path)
        match = CSRF_INPUT.search(html)
        if status != 200 or not match:
            raise AssertionError(f"GET {path} gave {status} with no CSRF token")
        return match.group(1), html

    def choice_form(self, path: str) -> dict[str, str]:
        """GET a choice exercise; return an answer ready to post: its CSRF token, idempotency key and first option."""
        token, page = self.form_page(path)
        return {"csrf_token": token, "idempotency_key": KEY_INPUT.search(page).group(1),
                "answer": CHOICE_INPUT.search(page).group(1)}

    def login(self, email: str, password: str) -> int:
        """Log in through the real form; return the status of the POST."""
        token, _ = self.form_page("/login")
        status, _, _ = self.request("POST", "/login", {"email": email, "password": password, "csrf_token": token})
        return status


@contextmanager
def scratch_database(kind: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of an empty database: a SQLite file in workdir, or a throwaway PostgreSQL database.

    PostgreSQL is created next to TEST_DATABASE_URL (DATABASE_URL for the benchmark) and dropped afterwards.
    """
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'site.sqlite3'}"
        return
    base_url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base_url:
        raise AssertionError("a PostgreSQL run needs TEST_DATABASE_URL (or DATABASE_URL)")
    # A random part in the name: a test may hold two at once (a backup restored into a second database).
    with scratch_postgres(f"scratch_{uuid.uuid4().hex[:8]}", base_url) as url:
        yield url


def database_kinds() -> list[str]:
    """Return the backends to run multi-process tests on: SQLite always, PostgreSQL when configured."""
    return ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@dataclass
class Gunicorn:
    """A running gunicorn: its port, process, logs and the environment the site was started with."""

    port: int
    proc: subprocess.Popen
    access_log: Path
    error_log: Path
    env: dict[str, str]

    def client(self) -> Client:
        """Return a fresh client (own cookies) for this server."""
        return Client(self.port)

    def worker_pids(self, method: str, path: str) -> set[int]:
        """Return the pids of the workers that have served `method path` so far (from the access log)."""
        pids = set()
        for line in self.access_log.read_text().splitlines():
            fields = line.split()
            if len(fields) == 4 and fields[2:] == [method, path]:
                pids.add(int(fields[0].strip("<>")))  # gunicorn writes %(p)s as "<pid>"
        return pids


def site_env(database_url: str, **extra: str) -> dict[str, str]:
    """Return the environment for the production site on a database (plain http, so cookies not Secure)."""
    env = dict(os.environ)
    for key in ("COURSE_DIR", "COURSE_EXTRA_DIRS", "RATELIMIT_STORAGE_URI", "LOGIN_RATE_LIMIT"):
        env.pop(key, None)
    env.update(DATABASE_URL=database_url, SECRET_KEY=uuid.uuid4().hex, APP_ENV="production",
               PYTHONPATH=str(REPO), COURSE_DIR=str(REPO))
    env.update(extra)
    return env


@contextmanager
def gunicorn(env: dict[str, str], workdir: Path, workers: int = 2, app_spec: str = "web:create_app()",
             extra_args: tuple[str, ...] = (), log_access: bool = True) -> Iterator[Gunicorn]:
    """Migrate the database in env, start gunicorn on a free loopback port, yield it, then stop it."""
    migrated = subprocess.run([str(BIN / "course"), "db", "upgrade"], env=env, capture_output=True, text=True,
                              cwd=workdir)
    # Say why: a bare CalledProcessError hides the migration's own message in the captured output.
    assert migrated.returncode == 0, f"course db upgrade failed:\n{migrated.stdout}{migrated.stderr}"
    port = free_port()
    access_log, error_log = workdir / f"access-{port}.log", workdir / f"error-{port}.log"
    access = ["--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT] if log_access else []
    # No control socket: gunicorn 27 puts one at a fixed path in $HOME, which parallel servers would fight over.
    cmd = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--no-control-socket",
           *access,
           "--error-logfile", str(error_log), "--pythonpath", str(REPO), *extra_args, app_spec]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Gunicorn(port, proc, access_log, error_log, env)
    try:
        wait_until_up(server)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_up(server: Gunicorn, timeout: float = 60) -> None:
    """Poll /healthz until the site answers 200, failing with gunicorn's error log if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    log = server.error_log.read_text() if server.error_log.exists() else "(no log)"
    raise AssertionError(f"gunicorn did not come up on port {server.port}:\n{log[-3000:]}")


def create_user(env: dict[str, str], email: str, password: str, role: str = "learner") -> None:
    """Create an account with the real CLI (`course user create`)."""
    result = subprocess.run([str(BIN / "course"), "user", "create", email, "--role", role, "--password", password],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
