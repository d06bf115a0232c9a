"""Accounts through the site: register, log in and out, change password, export and delete data."""

from __future__ import annotations

import json
import re
import statistics
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import TEST_PASSWORD, confirmation_path, csrf_token_from, register_account, sent_mail
from web import create_app
from web.extensions import db
from web.models import Attempt, LessonProgress, User
from web.services import accounts

pytestmark = pytest.mark.db


def post_form(client, url, data, page_url=None, **kwargs):
    """GET the page holding the form, then POST `data` with its CSRF token."""
    token = csrf_token_from(client.get(page_url or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def test_register_sends_a_link_that_finishes_the_account(app, client):
    """A new address gets an email; its link (a page with a button) confirms the learner and logs them in."""
    response = register_account(app, client, "Ada@Example.org", display_name="Ada")
    assert response.status_code == 302 and response.headers["Location"].endswith("/progress")
    user = db.session.scalar(select(User).where(User.email == "ada@example.org"))
    assert user.role == "learner" and user.display_name == "Ada" and user.email_confirmed_at is not None
    assert client.get("/progress").status_code == 200
    (message,) = sent_mail(app)
    assert message.to == ["ada@example.org"] and message.subject == "Finish creating your account"


def test_the_registration_link_opens_a_page_and_confirms_nothing_by_itself(app, client):
    """Opening the link (as a mail scanner would) shows a button; only pressing it confirms the address."""
    post_form(client, "/register", {"email": "scan@example.org", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    page = client.get(confirmation_path(app, "scan@example.org"))
    assert page.status_code == 200 and "Confirm my email" in page.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.email == "scan@example.org"))
    assert user.email_confirmed_at is None
    assert client.get("/progress").status_code == 302


def test_register_answers_a_taken_email_exactly_like_a_new_one(app, client, make_user):
    """The form's answer for a taken address is the same page as for a new one; the owner is told by email."""
    make_user(email="taken@example.org")
    taken = post_form(client, "/register", {"email": "TAKEN@example.org", "password": TEST_PASSWORD,
                                            "confirm": TEST_PASSWORD})
    fresh = app.test_client()
    new = post_form(fresh, "/register", {"email": "fresh@example.org", "password": TEST_PASSWORD,
                                         "confirm": TEST_PASSWORD})
    assert (taken.status_code, taken.headers["Location"]) == (new.status_code, new.headers["Location"])
    taken_page = client.get("/register/sent").get_data(as_text=True)
    new_page = fresh.get("/register/sent").get_data(as_text=True)
    assert taken_page.replace("taken@example.org", "X") == new_page.replace("fresh@example.org", "X")
    assert "already" not in taken_page
    to_owner = next(m for m in sent_mail(app) if m.to == ["taken@example.org"])
    assert to_owner.subject == "You already have an account" and "/register/confirm/" not in to_owner.body
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "taken@example.org")) == 1


def test_register_takes_as_long_for_a_taken_email_as_for_a_new_one(app, make_user):
    """Timing tells nothing either: the two answers take about as long (medians within a factor of two)."""
    make_user(email="slow@example.org")

    def median_seconds(emails) -> float:
        """Median time of a registration POST, each from its own client."""
        times = []
        for email in emails:
            c = app.test_client()
            token = csrf_token_from(c.get("/register").get_data(as_text=True))
            t0 = time.perf_counter()
            c.post("/register", data={"csrf_token": token, "email": email, "password": TEST_PASSWORD,
                                      "confirm": TEST_PASSWORD})
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    taken = median_seconds(["slow@example.org"] * 7)
    new = median_seconds([f"new-{i}@example.org" for i in range(7)])
    assert 0.5 < taken / new < 2.0, (taken, new)


def test_registering_a_waiting_address_again_replaces_its_link(app, client):
    """An account nobody has confirmed belongs to no one: registering again resets it, and the old link dies."""
    post_form(client, "/register", {"display_name": "Squatter", "email": "owner@example.org",
                                    "password": "squatter-password-1", "confirm": "squatter-password-1"})
    old_link = confirmation_path(app, "owner@example.org")
    owner = app.test_client()
    response = register_account(app, owner, "owner@example.org", display_name="Owner")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "owner@example.org"))
    assert user.display_name == "Owner" and user.check_password(TEST_PASSWORD)
    stale = client.get(old_link)
    assert stale.status_code == 400 and "used already" in stale.get_data(as_text=True)


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda link: link[:-3] + ("xyz" if not link.endswith("xyz") else "abc"), "not valid"),
    (lambda link: "/register/confirm/not-a-token", "not valid"),
])
def test_a_broken_registration_link_says_what_is_wrong(app, client, tamper, message):
    """A tampered or made-up link is refused with a plain message and a way forward; nothing is confirmed."""
    post_form(client, "/register", {"email": "t@example.org", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    response = client.get(tamper(confirmation_path(app, "t@example.org")))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and "Register again" in html
    assert db.session.scalar(select(User).where(User.email == "t@example.org")).email_confirmed_at is None


def test_an_expired_registration_link_says_so(app, client, monkeypatch):
    """After a day the link is refused as expired."""
    post_form(client, "/register", {"email": "late@example.org", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    link = confirmation_path(app, "late@example.org")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + accounts.CONFIRM_MAX_AGE + 60)
    response = client.get(link)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_a_used_registration_link_cannot_log_anyone_in_again(app, client):
    """Once confirmed, the link is spent: a second use (a forwarded email) logs nobody in."""
    register_account(app, client, "once@example.org")
    other = app.test_client()
    again = other.get(confirmation_path(app, "once@example.org"))
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    assert other.get("/progress").status_code == 302


def test_an_unconfirmed_account_cannot_log_in_and_gets_its_link_again(app, client):
    """The right password on a waiting account sends the link again and says so; it does not log in."""
    post_form(client, "/register", {"email": "wait@example.org", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    before = len(sent_mail(app))
    other = app.test_client()
    response = post_form(other, "/login", {"email": "wait@example.org", "password": TEST_PASSWORD})
    assert "Confirm your email address first" in response.get_data(as_text=True)
    assert other.get("/progress").status_code == 302
    assert len(sent_mail(app)) == before + 1
    wrong = post_form(app.test_client(), "/login", {"email": "wait@example.org", "password": "not the password!"})
    assert "not correct" in wrong.get_data(as_text=True)


def test_register_keeps_a_safe_next_through_the_email(app, client):
    """A `next` given at registration is where the confirmed learner lands."""
    response = register_account(app, client, "next@example.org", next_path="/lessons/l-one")
    assert response.headers["Location"].endswith("/lessons/l-one")


def test_register_strips_direction_overrides_from_the_display_name(app, client):
    """A right-to-left override or zero-width character in a name is dropped, so it cannot flip the text around
    it on a roster or certificate; the visible letters are kept."""
    register_account(app, client, "eve@example.org", display_name="Eve\u202egnp.exe \u200bLee")
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
