"""A double click that reaches the server twice at the same moment (as with several gunicorn workers)
stores one attempt, on SQLite and PostgreSQL. These tests commit for real, so they clean up after themselves."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import KEY_INPUT, TEST_PASSWORD, csrf_token_from, hidden_value
from web import create_app
from web.extensions import db
from web.models import Attempt, User

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
        user = User(email="race-1@example.org", role="learner")
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
        posts.append({"csrf_token": csrf_token_from(page), "idempotency_key": key, "answer": "freshest-memory"})
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
