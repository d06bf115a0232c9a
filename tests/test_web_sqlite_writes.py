"""SQLite with several workers: a request that read before another worker wrote can still write."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.conftest import TEST_PASSWORD, WEB_COURSE
from web import create_app
from web.extensions import db
from web.manage import upgrade
from web.models import User, utcnow


@pytest.fixture
def file_app(tmp_path):
    """Return an app on its own SQLite file (real commits, no test transaction)."""
    url = f"sqlite:///{tmp_path / 'writes.sqlite3'}"
    upgrade(url)
    app = create_app({"TESTING": True, "SECRET_KEY": "k", "DATABASE_URL": url, "COURSE_DIR": str(WEB_COURSE),
                      "PASSWORD_HASH_FAST": True})
    with app.app_context():
        for name in ("a", "b"):
            user = User(email=f"{name}@example.org", email_confirmed_at=utcnow())
            user.set_password(TEST_PASSWORD)
            db.session.add(user)
        db.session.commit()
    return app


def _interleave(app, use_begin_write: bool) -> None:
    """Worker A reads, worker B writes and commits, then worker A writes."""
    with app.app_context():
        a = db.session.scalar(select(User).where(User.email == "a@example.org"))  # A's read snapshot starts
        with app.app_context():  # another worker, with its own session and connection
            b = db.session.scalar(select(User).where(User.email == "b@example.org"))
            b.display_name = "B"
            db.session.commit()
        if use_begin_write:
            db.begin_write()
        a.display_name = "A"
        db.session.commit()


def test_write_after_another_workers_commit_fails_without_begin_write(file_app):
    """The failure begin_write() exists for: a stale WAL snapshot cannot be upgraded to a writer."""
    with pytest.raises(OperationalError, match="locked"):
        _interleave(file_app, use_begin_write=False)


def test_begin_write_lets_the_later_write_through(file_app):
    """With db.begin_write() the same interleaving commits both changes."""
    _interleave(file_app, use_begin_write=True)
    with file_app.app_context():
        names = {row.email: row.display_name for row in db.session.execute(select(User.email, User.display_name))}
    assert names == {"a@example.org": "A", "b@example.org": "B"}
