"""Security features of the site, one test (at least) each; the CI suite adds a broader attack set."""

from __future__ import annotations

import os
import uuid
from time import monotonic

import pytest
import redis
from sqlalchemy import func, select

from graders import MAX_ANSWER_CHARS
from tests.conftest import CSRF_INPUT, TEST_PASSWORD, attempts_of, confirmation_path, csrf_token_from
from tests.servers import free_port
from web import create_app
from web.config import ConfigError, build_config
from web.extensions import db
from web.models import Attempt, Cohort, SavedDraft, User
from web.security import is_safe_next

pytestmark = pytest.mark.db


@pytest.mark.parametrize("target", ["/progress", "/lessons/l-one?x=1", "/exercises/why-close-quiz#top"])
def test_local_next_is_safe(target):
    """Plain local paths are followed after login."""
    assert is_safe_next(target)


@pytest.mark.parametrize("target", [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/x", "http:/evil.example",
    "javascript:alert(1)", "JavaScript:alert(1)", "/\t/evil.example", "/\n/evil.example", "evil.example", "",
    None, " /progress", "data:text/html,hi",
])
def test_off_site_next_is_refused(target):
    """Anything that a browser could resolve off-site is refused."""
    assert not is_safe_next(target)


def test_login_ignores_an_open_redirect(client, make_user):
    """Logging in with next=//evil lands on the site's own page."""
    user = make_user()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/steal", data={"email": user.email, "password": TEST_PASSWORD,
                                                                      "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/progress"


def test_security_headers_on_every_page(client):
    """CSP, nosniff, Referrer-Policy and frame denial are on HTML pages and error pages."""
    for url in ("/", "/login", "/lessons/l-one", "/no-such-page"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
                          "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"):
            assert directive in csp, (url, directive)
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]


def test_pages_have_no_inline_scripts_or_styles(client, make_user, login):
    """Nothing in the pages needs 'unsafe-inline': no <script> bodies, no style attributes."""
    login(make_user())
    for url in ("/", "/lessons/l-one", "/exercises/order-close-steps", "/exercises/thank-you-email", "/progress",
                "/account"):
        html = client.get(url).get_data(as_text=True)
        assert "<style" not in html and " style=" not in html, url
        assert "<script>" not in html and "onclick" not in html.lower(), url


def test_session_cookie_flags_outside_development(monkeypatch, app_config):
    """Outside development the session and remember cookies are Secure, HttpOnly and SameSite=Lax."""
    config = {k: v for k, v in app_config.items() if k != "TESTING"}
    monkeypatch.setenv("APP_ENV", "production")
    app = create_app(config)
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        assert app.config[f"{prefix}_SECURE"] is True
        assert app.config[f"{prefix}_HTTPONLY"] is True
        assert app.config[f"{prefix}_SAMESITE"] == "Lax"


def test_hsts_is_sent_when_site_url_is_https(app_config, connection):
    """An https SITE_URL turns on Strict-Transport-Security on every response; http or none leaves it off."""
    for site, expected in (("https://course.example.org", "max-age=31536000"), ("http://127.0.0.1:8000", None),
                           (None, None)):
        app = create_app({**app_config, "SITE_URL": site})
        app.extensions["db_bind"] = connection
        for path in ("/", "/login", "/no-such-page", "/healthz"):
            assert app.test_client().get(path).headers.get("Strict-Transport-Security") == expected, (site, path)


def test_share_link_is_built_from_site_url_never_the_host_header(app_config, connection, make_user):
    """The roster's join link uses SITE_URL; without it production shows the path, and only tests (and development)
    take the host from the request."""
    owner = make_user("instructor")
    cohort = Cohort(name="Link cohort", owner_id=owner.id, join_code="LINK-2345")
    db.session.add(cohort)
    db.session.commit()
    production = {k: v for k, v in app_config.items() if k != "TESTING"} | {"APP_ENV": "production"}
    for config, link in (({**app_config, "SITE_URL": "https://course.example.org/"},
                          "https://course.example.org/join/LINK-2345"),
                         (production, "/join/LINK-2345"),
                         (app_config, "https://evil.example/join/LINK-2345")):
        app = create_app(config)
        app.extensions["db_bind"] = connection
        client = app.test_client()
        # The request's Host is the attacker's (https, so the production app's Secure cookie is sent).
        with client.session_transaction(base_url="https://evil.example") as session:
            session["_user_id"], session["_fresh"] = owner.get_id(), True
        page = client.get(f"/instructor/cohorts/{cohort.id}", base_url="https://evil.example").get_data(as_text=True)
        assert f'Link to share: <a href="{link}">{link}</a>' in page, config.get("SITE_URL") or config.get("APP_ENV")


@pytest.mark.parametrize("value", ["course.example.org", "https://course.example.org/path", "ftp://x.example",
                                   "https://user@course.example.org", "https://course.example.org?x=1"])
def test_malformed_site_url_stops_start_up(app_config, value):
    """SITE_URL must be scheme and host (and port): anything else is a one-line start-up error naming it."""
    with pytest.raises(ConfigError, match="SITE_URL"):
        create_app({**app_config, "SITE_URL": value})


def test_session_cookie_is_httponly_and_lax(client, make_user, login):
    """The cookie set at login carries HttpOnly and SameSite=Lax."""
    login(make_user())
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_refuses_to_start_without_secret_key_in_production(monkeypatch, app_config):
    """Without SECRET_KEY outside development, create_app stops with a message naming the setting."""
    config = {k: v for k, v in app_config.items() if k not in ("TESTING", "SECRET_KEY")}
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(config)


def test_development_starts_without_secret_key(monkeypatch, app_config, tmp_path):
    """In development a random key is made once and kept in the instance folder (private), so `scripts/run`
    needs no set-up and sessions survive restarts and agree across workers."""
    config = {k: v for k, v in app_config.items() if k not in ("TESTING", "SECRET_KEY")}
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = build_config(str(tmp_path), config)
    second = build_config(str(tmp_path), config)
    assert len(first["SECRET_KEY"]) >= 32 and first["SECRET_KEY"] == second["SECRET_KEY"]
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0
    assert first["SESSION_COOKIE_SECURE"] is False


def test_post_without_csrf_token_is_refused(client, make_user, login):
    """A form post without its CSRF token changes nothing."""
    user = make_user()
    login(user)
    response = client.post("/account/delete", data={"password": TEST_PASSWORD, "confirm": "y"})
    assert response.status_code == 400
    assert db.session.get(User, user.id) is not None


def test_login_without_csrf_token_is_refused(client, make_user):
    """Login forms are CSRF-protected too (no login CSRF)."""
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert client.get("/progress").status_code == 302


RATE_STORAGES = ["memory://"] + ([os.environ["TEST_REDIS_URL"]] if os.environ.get("TEST_REDIS_URL") else [])


@pytest.mark.parametrize("storage", RATE_STORAGES)
def test_login_is_rate_limited_per_address_and_email(app_config, connection, storage):
    """After 10 failed logins in a minute for one email, further tries get the 429 page (memory and Redis)."""
    # A fresh key prefix per run, so parallel workers and earlier runs sharing one Redis do not interfere.
    prefix = uuid.uuid4().hex
    app = create_app({**app_config, "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": prefix})
    app.extensions["db_bind"] = connection
    with app.app_context():
        check_login_limit(app.test_client(), User(email=f"rl-{uuid.uuid4().hex[:6]}@example.org", role="learner"))
    if storage.startswith("redis"):
        # Leave nothing behind in a Redis database others may share: only this run's keys.
        store = redis.Redis.from_url(storage)
        counts = list(store.scan_iter(match=f"*{prefix}*"))
        assert counts, "no count was stored under the run's key prefix"
        store.delete(*counts)


def check_login_limit(client, user):
    """Store `user`, then fail to log in 11 times and check the 11th and later tries are refused."""
    user.set_password(TEST_PASSWORD)
    db.session.add(user)
    db.session.commit()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    codes = [client.post("/login", data={"email": user.email, "password": f"wrong-{i}", "csrf_token": token})
             .status_code for i in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429
    blocked = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert f'value="{user.email}"' in blocked.get_data(as_text=True)  # the form comes back with the email
    other = client.post("/login", data={"email": "someone-else@example.org", "password": "x", "csrf_token": token})
    assert other.status_code == 200


def test_login_is_rate_limited_per_address_across_emails(app, client, make_user):
    """Password spraying (one password tried on many accounts from one address) meets a limit of its own."""
    app.config["LOGIN_ADDRESS_RATE_LIMIT"] = "5/minute"
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    codes = [client.post("/login", data={"email": f"sprayed-{i}@example.org", "password": "Summer2026!",
                                         "csrf_token": token}).status_code for i in range(5)]
    assert codes == [200] * 5
    user = make_user()
    blocked = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429, "a sixth email from the same address was still checked"
    assert "Too many login attempts from your network" in blocked.get_data(as_text=True)


def test_a_successful_login_clears_the_failures_of_its_email(app, client, make_user):
    """Failures before a good password are forgotten, so someone who logs in often never locks themself out."""
    user = make_user()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))

    def attempt(password: str, browser=client, csrf: str = token) -> int:
        """Send one login for the user from a browser (the same address either way); return the status."""
        return browser.post("/login", data={"email": user.email, "password": password, "csrf_token": csrf}).status_code

    assert [attempt(f"wrong-{i}") for i in range(9)] == [200] * 9
    other = app.test_client()
    assert attempt(TEST_PASSWORD, other, csrf_token_from(other.get("/login").get_data(as_text=True))) == 302
    assert [attempt(f"wrong-again-{i}") for i in range(10)] == [200] * 10
    assert attempt("one-too-many") == 429


def test_rate_limits_fall_back_to_memory_while_redis_is_down(app_config, connection, caplog, monkeypatch):
    """Redis on a dead port: drafts, registration and logins still work, limits hold per worker, it is logged."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app({**app_config, "RATELIMIT_STORAGE_URI": dead, "LOGIN_RATE_LIMIT": "3/minute"})
    app.extensions["db_bind"] = connection
    warnings = lambda: [r for r in caplog.records if "rate-limit storage" in r.getMessage()]  # noqa: E731
    # No app context around the requests: each gets its own, as in production (a shared one shares `g`).
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    # First a limit counted by hand (the anonymous draft), then the decorated ones.
    draft = client.post("/exercises/thank-you-email", data={"csrf_token": token, "answer": "Kept while it is down"})
    assert draft.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SavedDraft)) == 1
    registered = client.post("/register", data={"csrf_token": token, "email": "down@example.org",
                                                "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    assert registered.status_code == 302
    link = confirmation_path(app, "down@example.org")
    confirmed = client.post(link, data={"csrf_token": csrf_token_from(client.get(link).get_data(as_text=True))})
    assert confirmed.status_code == 302
    other = app.test_client()
    ok = other.post("/login", data={"csrf_token": csrf_token_from(other.get("/login").get_data(as_text=True)),
                                    "email": "down@example.org", "password": TEST_PASSWORD}, follow_redirects=True)
    assert ok.status_code == 200 and "You are logged in" in ok.get_data(as_text=True)
    guesser = app.test_client()
    token = csrf_token_from(guesser.get("/login").get_data(as_text=True))
    codes = [guesser.post("/login", data={"csrf_token": token, "email": "down@example.org",
                                          "password": f"wrong-{i}"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429], "the limit must still hold, counted in this worker's memory"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["status"] == "degraded"
    assert len(warnings()) == 1, "one warning a minute, not one per request"
    later = monotonic() + 61
    monkeypatch.setattr("web.extensions.monotonic", lambda: later)
    client.get("/")
    assert len(warnings()) == 2 and dead in warnings()[-1].getMessage()


def test_healthz_reports_the_rate_limit_storage(app_config, connection):
    """/healthz says "ok" with a working limiter storage, and "degraded" (still 200) with one that does not answer."""
    for storage, status in (("memory://", "ok"), (f"redis://127.0.0.1:{free_port()}/0", "degraded")):
        app = create_app({**app_config, "RATELIMIT_STORAGE_URI": storage})
        app.extensions["db_bind"] = connection
        with app.app_context():
            response = app.test_client().get("/healthz")
        assert response.status_code == 200 and response.get_json()["status"] == status, storage


def test_old_session_cookie_dies_when_session_version_changes(client, make_user, login):
    """Bumping the session version (password change, log out everywhere) ends existing sessions."""
    user = make_user()
    login(user)
    assert client.get("/progress").status_code == 200
    user.session_version += 1
    db.session.commit()
    assert client.get("/progress").status_code == 302


def test_learner_text_is_escaped_everywhere(client, make_user, login):
    """A display name with markup is shown as text, never as HTML."""
    user = make_user(display_name="<img src=x onerror=alert(1)>")
    login(user)
    html = client.get("/account").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_oversize_request_gets_the_413_page(client, make_user, login):
    """Bodies over 1 MB are refused with the friendly 413 page and store nothing."""
    user = make_user()
    login(user)
    page = client.get("/exercises/thank-you-email").get_data(as_text=True)
    response = client.post("/exercises/thank-you-email", data={"answer": "x" * (1024 * 1024 + 10),
                                                               "csrf_token": csrf_token_from(page)})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0


def test_passwords_are_stored_as_argon2_hashes(client):
    """Registration stores an argon2id hash, never the password."""
    token = csrf_token_from(client.get("/register").get_data(as_text=True))
    client.post("/register", data={"email": "h@example.org", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD,
                                   "csrf_token": token})
    user = db.session.scalar(select(User).where(User.email == "h@example.org"))
    assert user.password_hash.startswith("$argon2id$") and TEST_PASSWORD not in user.password_hash


def test_error_pages_never_show_a_traceback(app, client, monkeypatch):
    """An unexpected error renders the 500 page without internals."""

    def boom():
        """Fail like a bug would."""
        raise RuntimeError("secret internals")

    app.view_functions["learn.course_page"] = boom
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in html and "secret internals" not in html and "Traceback" not in html


def test_anonymous_draft_saving_is_capped_per_address(client):
    """Posting answers without a login stores drafts, but only so many per client address."""
    for i in range(32):
        client.post("/exercises/thank-you-email", data={"csrf_token": "none", "answer": f"spam {i}"})
    assert db.session.scalar(select(func.count()).select_from(SavedDraft)) == 30


def test_anonymous_drafts_are_capped_at_the_answer_limit(client, make_user, login):
    """A 900 KB answer posted without a login is kept only up to the answer cap, and the learner is told."""
    huge = "A long answer. " * 60_000
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/exercises/thank-you-email", data={"csrf_token": token, "answer": huge},
                           follow_redirects=True)
    assert "longer than 5,000 characters, the most an answer can be, so only its beginning was kept" in \
        response.get_data(as_text=True)
    [draft] = db.session.scalars(select(SavedDraft))
    assert sum(len(name) + len(value) for name, value in draft.fields) <= MAX_ANSWER_CHARS
    login(make_user())
    page = client.get("/exercises/thank-you-email").get_data(as_text=True)
    assert "Here is the answer you were working on" in page and huge[:4000] in page


def test_client_cannot_set_score_user_or_pass(learner, make_user, submit):
    """Posted score, passed, user_id or role fields are ignored: grading happens on the server."""
    other = make_user()
    submit("why-close-quiz", "decided-early", extra={"score": "1.0", "passed": "true", "user_id": str(other.id),
                                                     "role": "admin", "status": "correct"})
    [attempt] = attempts_of(learner)
    assert attempt.score < 1.0 and attempt.passed is False and attempt.user_id == learner.id
    assert attempts_of(other) == []
    db.session.refresh(learner)
    assert learner.role == "learner"


def test_feedback_is_owner_only_and_unknown_looks_the_same(learner, make_user, make_attempt, client):
    """Another learner's attempt and a missing one both give the same 404 page."""
    other = make_user()
    theirs = make_attempt(other, "why-close-quiz")
    mine = make_attempt(learner, "why-close-quiz")
    assert client.get(f"/attempts/{mine.id}").status_code == 200
    foreign = client.get(f"/attempts/{theirs.id}")
    missing = client.get("/attempts/999999")
    assert foreign.status_code == missing.status_code == 404
    # The header's logout form carries a CSRF token signed with the current second: equal up to that.
    assert CSRF_INPUT.sub("", foreign.get_data(as_text=True)) == CSRF_INPUT.sub("", missing.get_data(as_text=True))
