"""The benchmarks' logged-in test client, so each script reaches the instructor pages the same way."""

from __future__ import annotations

from web.extensions import db
from web.models import User


def instructor_client(app, owner_id: int):
    """Return a test client logged in as the cohort's instructor."""
    client = app.test_client()
    with app.app_context():
        owner = db.session.get(User, owner_id)
        with client.session_transaction() as sess:
            sess["_user_id"] = owner.get_id()
            sess["_fresh"] = True
    return client
