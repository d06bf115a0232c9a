"""Shared fixtures (flaskr style): `app`, `client`, `runner`, plus database and factory fixtures.

Database tests run on SQLite always and on PostgreSQL as well when TEST_DATABASE_URL is set. Each backend's
schema is built once per session with the Alembic migrations; each test runs inside a transaction that is
rolled back afterwards (the site's sessions commit to savepoints inside it).
"""

from __future__ import annotations

import copy
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError

import graders
from course.loader import load_course
from course.model import Course, Exercise
from web import create_app, types
from web.answers import OptionTokens
from web.cli import SiteSettings
from web.cli import cli as course_cli
from web.extensions import db, make_engine, normalise_database_url
from web.manage import upgrade
from web.models import Attempt, Cohort, CohortMembership, User, utcnow
from web.services import summaries

TEST_PASSWORD = "correct horse battery"
# A small, stable course for the site tests (one exercise of each type); the shipped course has its own tests.
WEB_COURSE = Path(__file__).parent / "web_course"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KEY_INPUT = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"')


def _worker() -> str:
    """Return the xdist worker name ('main' without xdist), to give each worker its own database."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def scratch_postgres(purpose: str, base_url: str | None = None) -> Iterator[str]:
    """Create an empty PostgreSQL database next to base_url (TEST_DATABASE_URL), yield its URL, then drop it.

    The name holds the xdist worker and the process id, so parallel workers and other people's test runs
    on the same server never share (or drop) each other's databases.
    """
    base = make_url(normalise_database_url(base_url or os.environ["TEST_DATABASE_URL"]))
    name = f"{base.database}_{purpose}_{_worker()}_{os.getpid()}"
    admin = make_engine(base.render_as_string(hide_password=False)).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        # Never skip silently: a configured but missing PostgreSQL would hide half the suite.
        pytest.fail(
            f"PostgreSQL at {base.render_as_string(hide_password=True)} is unreachable: "
            f"{exc.orig}. Start the server or unset TEST_DATABASE_URL.",
            pytrace=False,
        )
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URL of an empty test database for one backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    with scratch_postgres("web") as url:
        yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """Return an engine on a database migrated to the newest revision."""
    eng = make_engine(db_url)
    with eng.connect() as conn:
        upgrade(db_url, "head", connection=conn)
        conn.commit()
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """Return a connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture(scope="session")
def web_course() -> Course:
    """Load the site tests' small course once for the whole session."""
    return load_course(WEB_COURSE)


@pytest.fixture
def app_config(db_url: str) -> dict[str, Any]:
    """Return the settings the test app is built with; tests may change them before using `app`."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": db_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SITE_TITLE": "Closing the Job Interview",
        "COURSE_DIR": str(WEB_COURSE),
        "PASSWORD_HASH_FAST": True,
    }


@pytest.fixture
def app(app_config: dict[str, Any], connection: Connection) -> Iterator[Flask]:
    """Return the site bound to the test's rolled-back transaction, CSRF protection on."""
    application = create_app(app_config)
    application.extensions["db_bind"] = connection

    @application.before_request
    def forget_previous_request() -> None:
        """Drop what Flask-Login and Flask-WTF cache in `g`: requests here share the test's app context.

        In production every request gets a fresh app context; in a test the one pushed below is reused,
        so without this a second client (another role) would see the first client's user and CSRF token.
        """
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    with application.app_context():
        yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client."""
    return app.test_client()


class CourseCliRunner(CliRunner):
    """Flask's test CLI runner, for the `course` group: runs a command in-process, stdout and stderr apart."""

    def invoke(self, cli: click.Command | None = None, args: Sequence[str] | None = None, *,
               app: Flask | None = None, **kwargs: Any) -> Result:
        """Run `course ARGS...`; with `app` the site commands run in it (the test's transaction), else build one."""
        kwargs.setdefault("obj", SiteSettings(app=app))
        # An unexpected exception fails the test with its traceback, as it would print one for an operator.
        kwargs.setdefault("catch_exceptions", False)
        return super().invoke(cli or course_cli, args, **kwargs)


@pytest.fixture
def runner() -> CourseCliRunner:
    """Return a runner for the `course` command: `runner.invoke(args=[...])`, with `app=app` to use the test's."""
    return CourseCliRunner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Return a factory that stores a user: make_user(role="learner", email=None, password=TEST_PASSWORD)."""

    def factory(role: str = "learner", email: str | None = None, password: str = TEST_PASSWORD,
                display_name: str = "") -> User:
        """Create and commit one user."""
        user = User(email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.org", role=role,
                    display_name=display_name or role.title(), email_confirmed_at=utcnow())
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def cohort_name() -> str:
    """The `cohort` fixture's name (a module may override this fixture to test names of its own)."""
    return "Careers Seminar, Spring"


@pytest.fixture
def instructor(make_user: Callable[..., User]) -> User:
    """An instructor account."""
    return make_user("instructor", display_name="Ines Instructor")


@pytest.fixture
def cohort(instructor: User, cohort_name: str) -> Cohort:
    """A cohort owned by `instructor`."""
    c = Cohort(name=cohort_name, owner_id=instructor.id, join_code="ABCD-EFGH")
    db.session.add(c)
    db.session.commit()
    return c


def cohort_with_members(owner: User, *members: User, name: str, join_code: str) -> Cohort:
    """Commit a cohort owned by `owner` with `members` in it, as the tests' setup (no join rules checked)."""
    cohort = Cohort(name=name, owner_id=owner.id, join_code=join_code)
    db.session.add(cohort)
    db.session.commit()
    db.session.add_all(CohortMembership(cohort_id=cohort.id, user_id=m.id) for m in members)
    db.session.commit()
    return cohort


def course_with_correct_option(course: Course, exercise_id: str, option_id: str) -> Course:
    """Return a copy of the course whose choice exercise's only correct option is `option_id` (an edited rule)."""
    ex = course.exercises[exercise_id]
    raw = copy.deepcopy(ex.raw_spec)
    for option in raw["options"]:
        option["correct"] = option["id"] == option_id
    changed = replace(ex, raw_spec=raw, spec=graders.compile_spec(ex.type, raw))
    return replace(course, exercises={**course.exercises, exercise_id: changed})


@pytest.fixture
def make_attempt(app: Flask) -> Callable[..., Attempt]:
    """Return a factory that stores an attempt: make_attempt(user, exercise_id, score=1.0, passed=True, ...)."""

    def factory(user: User, exercise_id: str, *, score: float = 1.0, passed: bool | None = None,
                status: str | None = None, checks: list[dict[str, Any]] | None = None, answer: Any = "x",
                answer_text: str = "") -> Attempt:
        """Create and commit one attempt with the next attempt number."""
        passed = score >= 0.8 if passed is None else passed
        count = sum(1 for a in user.attempts if a.exercise_id == exercise_id)
        attempt = Attempt(
            user_id=user.id, exercise_id=exercise_id, answer=answer, score=score, passed=passed,
            status=status or ("correct" if passed else "incorrect"), checks=checks or [],
            grader_version="test/1", idempotency_key=uuid.uuid4().hex, attempt_number=count + 1,
            answer_text=answer_text, message="",
        )
        db.session.add(attempt)
        db.session.flush()
        # As every writer of attempts does (web.services.summaries), in the same transaction.
        summaries.refresh(db.session, exercise_id, [user.id])
        db.session.commit()
        db.session.refresh(user)
        return attempt

    return factory


def login_as(client: FlaskClient, user: User) -> None:
    """Log a user in by writing the login cookie's session keys directly (fast; the login form has its own tests)."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True


@pytest.fixture
def learner(make_user: Callable[..., User], login: Callable[..., Any]) -> User:
    """Return a logged-in learner."""
    user = make_user()
    login(user)
    return user


def attempts_of(user: User) -> list[Attempt]:
    """Return the user's stored attempts, oldest first."""
    return list(db.session.scalars(select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.id)))


def csrf_token_from(html: str) -> str:
    """Return the CSRF token embedded in a rendered page."""
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def sent_mail(app: Flask) -> list[Any]:
    """Every email the app has sent so far (Flask-Mailman's in-memory outbox under TESTING)."""
    return list(getattr(app.extensions["mailman"], "outbox", []))


CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/register/confirm/[A-Za-z0-9_.\-]+)")


def confirmation_path(app: Flask, email: str) -> str:
    """The path of the newest registration link emailed to an address."""
    for message in reversed(sent_mail(app)):
        if email.lower() in [t.lower() for t in message.to]:
            match = CONFIRM_LINK.search(message.body)
            assert match, f"the last email to {email} holds no registration link: {message.body}"
            return match.group(1)
    raise AssertionError(f"no email was sent to {email}")


def register_account(app: Flask, client: FlaskClient, email: str, password: str = TEST_PASSWORD,
                     display_name: str = "", next_path: str | None = None) -> Any:
    """Register through the form, follow the emailed link and press its button; return the last response."""
    token = csrf_token_from(client.get("/register").get_data(as_text=True))
    sent = client.post("/register", query_string={"next": next_path} if next_path else None, data={
        "csrf_token": token, "display_name": display_name, "email": email, "password": password, "confirm": password})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/register/sent"), sent.status_code
    link = confirmation_path(app, email)
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return client.post(link, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., Any]:
    """Return a helper that logs a user in through the real login form."""

    def do_login(user: User, password: str = TEST_PASSWORD) -> Any:
        """Log `user` in and return the response after redirects."""
        page = client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        return client.post("/login", data={"email": user.email, "password": password, "csrf_token": token},
                           follow_redirects=True)

    return do_login


def hidden_value(pattern: re.Pattern[str], html: str) -> str:
    """Return the value of a hidden field found with `pattern`."""
    match = pattern.search(html)
    assert match, f"no field matching {pattern.pattern} in the page"
    return match.group(1)


def form_tokens(app: Flask, client: FlaskClient, exercise: Exercise) -> OptionTokens:
    """Return the option tokens the site gives the client's logged-in learner in an exercise's form."""
    with client.session_transaction() as sess:
        user_id = int(sess["_user_id"].partition(":")[0])
    view = graders.present(exercise.type, exercise.spec, 0)
    return OptionTokens.for_view(app.secret_key, user_id, exercise.id, view)


def answer_fields(exercise: Exercise, answer: Any, tokens: OptionTokens | None = None) -> dict[str, Any]:
    """Return the form fields a browser posts for `answer` (written with ids; `tokens` names them as the form does)."""
    view = graders.present(exercise.type, exercise.spec, 0)
    if tokens is not None:
        view, answer = tokens.form_view(view), tokens.to_tokens(exercise.type, answer)
    return types.get(exercise.type).form_fields(view, answer)


def form_fields(app: Flask, client: FlaskClient, exercise_id: str, answer: Any) -> dict[str, Any]:
    """Return the fields the client's logged-in learner's browser posts for `answer` (written with ids)."""
    exercise = app.extensions["course"].exercises[exercise_id]
    return answer_fields(exercise, answer, form_tokens(app, client, exercise))


@pytest.fixture
def submit(client: FlaskClient, app: Flask) -> Callable[..., Any]:
    """Return a helper that opens an exercise page and posts an answer through its form, as a browser would."""

    def do_submit(exercise_id: str, answer: Any = None, *, fields: dict[str, Any] | None = None,
                  extra: dict[str, Any] | None = None, follow_redirects: bool = False) -> Any:
        """Post `answer` (written with ids, sent as the form's tokens) or raw `fields`, plus `extra` fields."""
        page = client.get(f"/exercises/{exercise_id}").get_data(as_text=True)
        data = {"csrf_token": csrf_token_from(page), "idempotency_key": hidden_value(KEY_INPUT, page)}
        data.update(fields if fields is not None else form_fields(app, client, exercise_id, answer))
        data.update(extra or {})
        return client.post(f"/exercises/{exercise_id}", data=data, follow_redirects=follow_redirects)

    return do_submit
