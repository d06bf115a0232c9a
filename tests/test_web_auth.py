"""Accounts through the site: register, log in and out, change password, export and delete data."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import TEST_PASSWORD, csrf_token_from
from web import create_app
from web.extensions import db
from web.models import Attempt, LessonProgress, User

pytestmark = pytest.mark.db


def post_form(client, url, data, page_url=None, **kwargs):
    """GET the page holding the form, then POST `data` with its CSRF token."""
    token = csrf_token_from(client.get(page_url or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def test_register_creates_a_learner_and_logs_in(client):
    """A new account is a learner, stored with a lower-case email, and is logged in straight away."""
    response = post_form(client, "/register", {"display_name": "Ada", "email": "Ada@Example.org",
                                               "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "ada@example.org"))
    assert user.role == "learner" and user.display_name == "Ada"
    assert client.get("/progress").status_code == 200


def test_register_strips_direction_overrides_from_the_display_name(client):
    """A right-to-left override or zero-width character in a name is dropped, so it cannot flip the text around
    it on a roster or certificate; the visible letters are kept."""
    response = post_form(client, "/register", {"display_name": "Eve\u202egnp.exe \u200bLee", "email": "eve@example.org",
                                               "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "eve@example.org"))
    assert user.display_name == "Evegnp.exe Lee"


@pytest.mark.parametrize(("email", "password", "confirm", "message"), [
    ("not-an-email", TEST_PASSWORD, TEST_PASSWORD, "is not a valid email address"),
    ("a@example.org", "short", "short", "at least 10 characters"),
    ("a@example.org", TEST_PASSWORD, "something else!", "do not match"),
])
def test_register_rejects_bad_input_and_keeps_the_form(client, email, password, confirm, message):
    """Bad registrations re-show the form with a clear message and the email kept."""
    response = post_form(client, "/register", {"email": email, "password": password, "confirm": confirm})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert f'value="{email}"' in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_register_refuses_an_email_in_use(client, make_user):
    """Registering a taken email (in any case) fails with a message."""
    make_user(email="taken@example.org")
    response = post_form(client, "/register", {"email": "TAKEN@example.org", "password": TEST_PASSWORD,
                                               "confirm": TEST_PASSWORD})
    assert "already exists" in response.get_data(as_text=True)


def test_login_and_logout(client, make_user, login):
    """Logging in opens the learner pages; logging out (a POST with CSRF) closes them."""
    user = make_user()
    response = login(user)
    assert f"You are logged in as {user.email}" in response.get_data(as_text=True)
    page = client.get("/progress")
    assert page.status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert client.get("/progress").status_code == 302


def test_wrong_password_gives_one_message_for_both_cases(client, make_user):
    """Unknown email and wrong password get the same message, so accounts cannot be probed."""
    user = make_user()
    wrong = post_form(client, "/login", {"email": user.email, "password": "wrong password!"})
    unknown = post_form(client, "/login", {"email": "nobody@example.org", "password": "wrong password!"})
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "The email address or password is not correct." in response.get_data(as_text=True)
    assert client.get("/progress").status_code == 302


def test_login_follows_a_local_next(client, make_user):
    """After logging in, a local `next` path is followed."""
    user = make_user()
    response = post_form(client, "/login?next=/lessons/l-two",
                         {"email": user.email, "password": TEST_PASSWORD}, page_url="/login")
    assert response.headers["Location"] == "/lessons/l-two"


def test_change_password_logs_out_other_sessions(app, make_user, login, client):
    """After a password change the old password fails and another browser's session ends."""
    user = make_user()
    other = app.test_client()
    token = csrf_token_from(other.get("/login").get_data(as_text=True))
    other.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert other.get("/progress").status_code == 200
    login(user)
    response = post_form(client, "/account/password", {"current": TEST_PASSWORD, "new": "a brand new password",
                                                       "confirm": "a brand new password"}, page_url="/account")
    assert response.status_code == 302
    assert client.get("/progress").status_code == 200  # this browser stays in
    assert other.get("/progress").status_code == 302  # the other one is out
    db.session.refresh(user)
    assert user.check_password("a brand new password") and not user.check_password(TEST_PASSWORD)


def test_change_password_needs_the_current_one(client, make_user, login):
    """A wrong current password changes nothing and says why."""
    user = make_user()
    login(user)
    response = post_form(client, "/account/password", {"current": "not my password", "new": "a brand new password",
                                                       "confirm": "a brand new password"}, page_url="/account")
    assert response.status_code == 400
    assert "The current password is not correct." in response.get_data(as_text=True)


def test_logout_everywhere_ends_this_session_too(client, make_user, login):
    """'Log out on every device' bumps the session version, so the current cookie stops working."""
    user = make_user()
    login(user)
    post_form(client, "/account/logout-everywhere", {}, page_url="/account")
    assert client.get("/progress").status_code == 302


def test_export_contains_own_data_only(client, make_user, make_attempt, login):
    """The JSON download holds the learner's account and attempts, and nobody else's."""
    user = make_user(email="me@example.org")
    other = make_user(email="other@example.org")
    make_attempt(user, "why-close-quiz", answer="mine")
    make_attempt(other, "why-close-quiz", answer="theirs")
    login(user)
    response = client.get("/account/export")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "me@example.org"
    assert [a["answer"] for a in data["attempts"]] == ["mine"]
    assert "password_hash" not in json.dumps(data) and "other@example.org" not in json.dumps(data)


def test_delete_account_needs_password_and_removes_everything(client, make_user, make_attempt, login):
    """Deletion asks for the password and the confirmation box, then removes the user and their records."""
    user = make_user()
    user_id = user.id
    make_attempt(user, "why-close-quiz")
    login(user)
    client.get("/lessons/l-one")
    refused = post_form(client, "/account/delete", {"password": "wrong password!", "confirm": "y"},
                        page_url="/account")
    assert refused.status_code == 400 and "not correct" in refused.get_data(as_text=True)
    unticked = post_form(client, "/account/delete", {"password": TEST_PASSWORD}, page_url="/account")
    assert unticked.status_code == 400 and "Tick the box" in unticked.get_data(as_text=True)
    done = post_form(client, "/account/delete", {"password": TEST_PASSWORD, "confirm": "y"}, page_url="/account")
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user_id) is None
    for model in (Attempt, LessonProgress):
        assert db.session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id)) == 0
    assert client.get("/progress").status_code == 302


def test_expired_token_on_login_keeps_the_email(client, make_user):
    """A stale login form is re-shown with the email kept and a fresh token that works."""
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": "stale"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'value="{user.email}"' in html and "Your form had expired" in html and TEST_PASSWORD not in html
    again = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                        "csrf_token": csrf_token_from(html)})
    assert again.status_code == 302


def test_expired_token_on_register_keeps_name_and_email(client):
    """A stale registration form keeps the name and email, not the passwords."""
    response = client.post("/register", data={"display_name": "Ada L", "email": "ada@example.org",
                                              "password": TEST_PASSWORD, "confirm": TEST_PASSWORD,
                                              "csrf_token": "stale"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="Ada L"' in html and 'value="ada@example.org"' in html and TEST_PASSWORD not in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_account_page_labels_each_name_one_field(client, make_user, login):
    """Four forms share the account page: no id repeats, so every label names (and clicks) its own field."""
    login(make_user())
    html = client.get("/account").get_data(as_text=True)
    ids = re.findall(r'\bid="([^"]+)"', html)
    # Each form's hidden CSRF input is id="csrf_token" (Flask-WTF); nothing labels or targets it.
    repeated = {i for i in ids if ids.count(i) > 1} - {"csrf_token"}
    assert not repeated, f"ids used twice on /account: {sorted(repeated)}"
    for target in re.findall(r'<label for="([^"]+)"', html):
        assert ids.count(target) == 1, target
    assert re.search(r'<input id="delete-confirm" name="confirm"[^>]*type="checkbox"', html)


def test_limits_can_be_turned_off_and_an_app_built_next_has_them_again(app_config, connection):
    """RATELIMIT_ENABLED=False (the browser tests' setting) serves every page; an app built after it limits again
    (one limiter object serves every app of a process, and must not keep the earlier app's setting)."""

    def wrong_logins(config: dict, times: int) -> list[int]:
        """Build an app from `config` and send wrong passwords to it; return the statuses."""
        site = create_app({**app_config, **config})
        site.extensions["db_bind"] = connection
        client = site.test_client()
        assert client.get("/healthz").get_json() == {"status": "ok"}
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return [client.post("/login", data={"email": "nobody@example.org", "password": "wrong", "csrf_token": token})
                .status_code for _ in range(times)]

    assert wrong_logins({"RATELIMIT_ENABLED": False, "LOGIN_RATE_LIMIT": "2/minute"}, 4) == [200] * 4
    assert wrong_logins({"LOGIN_RATE_LIMIT": "2/minute"}, 3) == [200, 200, 429]
