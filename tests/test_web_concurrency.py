"""A double click that reaches the server twice at the same moment (as with several gunicorn workers)
stores one attempt, on SQLite and PostgreSQL. These tests commit for real, so they clean up after themselves."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import KEY_INPUT, TEST_PASSWORD, csrf_token_from, form_fields, hidden_value
from web import create_app
from web.extensions import db
from web.models import Attempt, User, utcnow
from web.services import accounts

pytestmark = pytest.mark.db
PARALLEL = 4


@pytest.fixture
def live_app(app_config, engine):
    """Return an app on the real test database (no rolled-back transaction) and remove its users afterwards."""
    application = create_app(app_config)
    yield application
    with application.app_context():
        db.session.execute(delete(User).where(User.email.like("race-%@example.org")))
        db.session.commit()


def test_simultaneous_double_submit_stores_one_attempt(live_app):
    """Several requests with the same idempotency key, released together, leave exactly one attempt."""
    with live_app.app_context():
        user = User(email="race-1@example.org", role="learner", email_confirmed_at=utcnow())
        user.set_password(TEST_PASSWORD)
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    clients = [live_app.test_client() for _ in range(PARALLEL)]
    key = None
    posts = []
    for client in clients:
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": "race-1@example.org", "password": TEST_PASSWORD, "csrf_token": token})
        page = client.get("/exercises/why-close-quiz").get_data(as_text=True)
        key = key or hidden_value(KEY_INPUT, page)  # every tab sends the key of the first form
        posts.append({"csrf_token": csrf_token_from(page), "idempotency_key": key,
                      **form_fields(live_app, client, "why-close-quiz", "freshest-memory")})
    barrier = threading.Barrier(PARALLEL)
    responses: list = [None] * PARALLEL
    errors: list[BaseException] = []

    def send(i: int) -> None:
        """Wait for the others, then post at the same moment."""
        try:
            barrier.wait(timeout=10)
            responses[i] = clients[i].post("/exercises/why-close-quiz", data=posts[i])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert [r.status_code for r in responses] == [303] * PARALLEL, [r.get_data(as_text=True)[:300] for r in responses]
    assert len({r.headers["Location"] for r in responses}) == 1
    with live_app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.user_id == user_id))
    assert count == 1


def test_two_admins_demoting_each_other_at_once_leave_one_admin(live_app, monkeypatch):
    """Both demotions are sent at the same moment; one wins and the other is refused: an admin always remains.

    Each thread pauses just after reading the admins (up to a second), so without the row locks both read two
    admins before either writes. With them the second waits inside its read until the first has committed.
    """
    with live_app.app_context():
        admins = [User(email=f"race-admin-{n}@example.org", role="admin", password_hash="x") for n in (1, 2)]
        db.session.add_all(admins)
        db.session.commit()
        ids = [a.id for a in admins]
    barrier = threading.Barrier(2)
    read_admins = accounts.locked_admin_ids

    def read_then_pause() -> set[int]:
        """Read (and lock) the admins, then give the other thread a second to read them too."""
        found = read_admins()
        # A broken barrier means the other thread is waiting for our locks: the fix at work.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)
        return found

    monkeypatch.setattr(accounts, "locked_admin_ids", read_then_pause)
    outcomes: list[str] = []

    def demote(target_id: int) -> None:
        """Demote one admin to learner in its own app context (own session and connection)."""
        with live_app.app_context():
            try:
                accounts.change_role(db.session.get(User, target_id), "learner")
                outcomes.append("demoted")
            except accounts.AccountError as exc:
                outcomes.append(str(exc))

    threads = [threading.Thread(target=demote, args=(i,)) for i in reversed(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with live_app.app_context():
        left = db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
    assert left == 1, outcomes
    assert sorted(outcomes)[0] == "demoted" and "is the last admin" in sorted(outcomes)[1], outcomes


def test_parallel_wrong_passwords_check_no_more_than_the_limit(live_app, monkeypatch):
    """24 wrong passwords at once against a limit of 10: exactly 10 are checked, the other 14 get the 429 form.

    Checking a password is made slow (0.3 s), so every request has passed the limiter before the first one
    finishes: counting each attempt only after its check let all of them through.
    """
    live_app.config["LOGIN_RATE_LIMIT"] = "10/minute"
    with live_app.app_context():
        user = User(email="race-login@example.org", role="learner", email_confirmed_at=utcnow())
        user.set_password(TEST_PASSWORD)
        db.session.add(user)
        db.session.commit()
    checked: list[str] = []
    authenticate = accounts.authenticate

    def slow_authenticate(email: str, password: str) -> User | None:
        """Check the password after a pause, noting that it was checked."""
        checked.append(password)
        time.sleep(0.3)
        return authenticate(email, password)

    monkeypatch.setattr(accounts, "authenticate", slow_authenticate)
    guesses = 24
    clients = [live_app.test_client() for _ in range(guesses)]
    tokens = [csrf_token_from(c.get("/login").get_data(as_text=True)) for c in clients]
    barrier = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess(i: int) -> None:
        """Wait for the others, then send one wrong password."""
        barrier.wait(timeout=10)
        statuses.append(clients[i].post("/login", data={"email": "race-login@example.org", "password": f"wrong-{i}",
                                                        "csrf_token": tokens[i]}).status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(checked) == 10, f"{len(checked)} passwords were checked"
    assert sorted(statuses) == [200] * 10 + [429] * 14, statuses
