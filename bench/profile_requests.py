"""Profile the site's requests in-process: where a submit, a lesson page and healthz spend their time.

Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/profile_requests.py submit --requests 300            # cProfile, top functions
    .venv/bin/py-spy record -o submit.svg -- .venv/bin/python bench/profile_requests.py submit --requests 2000
    .venv/bin/py-spy top -- .venv/bin/python bench/profile_requests.py lesson --requests 5000
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/profile_requests.py submit
    .venv/bin/python bench/profile_requests.py lesson --no-cprofile --history 5000   # 5,000 more attempts

(py-spy is on PyPI: `.venv/bin/pip install py-spy`; it samples the process from outside, so it sees C code and
costs the profiled program nothing; `--native` adds the C frames.) The app runs on a real database file (or a
scratch PostgreSQL database next to DATABASE_URL), migrated, with one learner who has read every lesson and
passed every exercise, logged in through the test client's cookie. Each request is the one bench/load.py sends.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load import ANSWER, EXERCISE, LESSON, add_history_rows  # noqa: E402 - needs the path fix above
from tests.servers import CSRF_INPUT, scratch_database  # noqa: E402
from web import create_app  # noqa: E402
from web.manage import upgrade  # noqa: E402
from web.services import attempts  # noqa: E402
from web.services.accounts import create_user  # noqa: E402
from web.services.progress import record_lesson_read  # noqa: E402


def prepared_client(url: str, history: int = 0):
    """Return (app, logged-in test client, CSRF token) for a learner with a finished course and `history` more."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "profile", "RATELIMIT_ENABLED": False})
    with app.app_context():
        course = app.extensions["course"]
        user = create_user("profile@example.org", "profile-password-123")
        for lesson_id in course.lesson_order():
            record_lesson_read(user, lesson_id)
        for exercise in course.exercises.values():
            attempts.submit(user, exercise, exercise.samples.passing[0], attempts.new_idempotency_key())
        if history:
            add_history_rows(course, [user.id], history)
        cookie_id = user.get_id()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = cookie_id
        sess["_fresh"] = True
    token = CSRF_INPUT.search(client.get(f"/exercises/{EXERCISE}").get_data(as_text=True)).group(1)
    return app, client, token


def one_request(flow: str, client, token: str) -> None:
    """Send one request of the flow and check its status."""
    if flow == "submit":
        response = client.post(f"/exercises/{EXERCISE}", data={
            "csrf_token": token, "answer": ANSWER, "idempotency_key": uuid.uuid4().hex})
        expected = 303
    else:
        response = client.get({"lesson": f"/lessons/{LESSON}", "progress": "/progress", "healthz": "/healthz"}[flow])
        expected = 200
    response.get_data()
    assert response.status_code == expected, (flow, response.status_code)


def main(argv: list[str] | None = None) -> int:
    """Warm up, then run the requests under cProfile (or bare, for py-spy) and print where the time went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", choices=("submit", "lesson", "progress", "healthz"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-cprofile", action="store_true", help="run bare (when py-spy samples from outside)")
    parser.add_argument("--top", type=int, default=30, help="functions to list")
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"),
                        help="list by time in the function itself, or with what it calls")
    parser.add_argument("--callers", metavar="NAME", help="also list who calls the functions matching NAME")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time this many rounds of --requests and report the fastest (a busy host's noise is "
                             "all one way)")
    parser.add_argument("--history", type=int, default=0,
                        help="more stored attempts for the learner, as bench/load.py's -history flows")
    args = parser.parse_args(argv)
    kind = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, scratch_database(kind, Path(tmp)) as url:
        app, client, token = prepared_client(url, args.history)
        for _ in range(20):
            one_request(args.flow, client, token)
        profile = None if args.no_cprofile else cProfile.Profile()
        took = float("inf")
        for _ in range(args.rounds):
            start = time.perf_counter()
            if profile:
                profile.enable()
            for _ in range(args.requests):
                one_request(args.flow, client, token)
            if profile:
                profile.disable()
            took = min(took, time.perf_counter() - start)
        app.extensions["db_engine"].dispose()
    print(f"{args.flow}: {args.requests} requests, history {args.history}, {took * 1000 / args.requests:.2f} ms each"
          + (" (under cProfile)" if profile else ""))
    if profile:
        stats = pstats.Stats(profile).sort_stats(args.sort)
        stats.print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
