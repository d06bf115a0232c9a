"""The tables: constraints, cascades, normalisation and password hashing, on every test backend."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web.extensions import make_engine, normalise_database_url
from web.models import (
    JOIN_CODE_ALPHABET,
    Attempt,
    AttemptGrade,
    Cohort,
    CohortMembership,
    ExerciseState,
    LessonProgress,
    User,
    new_join_code,
    new_shuffle_seed,
)

pytestmark = pytest.mark.db


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """Return an ORM session inside the test's rolled-back transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
        yield s


def add_user(session: Session, email: str = "Someone@Example.org", role: str = "learner") -> User:
    """Store one user with a password."""
    user = User(email=email, role=role)
    user.set_password("a long enough password")
    session.add(user)
    session.commit()
    return user


def add_attempt(session: Session, user: User, key: str | None = None, exercise: str = "why-close-quiz") -> Attempt:
    """Store one attempt."""
    attempt = Attempt(user_id=user.id, exercise_id=exercise, answer="a", score=1.0, passed=True, status="correct",
                      checks=[{"id": "c", "passed": True}], grader_version="single_choice/1",
                      idempotency_key=key or uuid.uuid4().hex, attempt_number=1)
    session.add(attempt)
    session.commit()
    return attempt


def test_email_is_trimmed_and_lower_cased_and_unique(session: Session) -> None:
    """Emails are stored lower-case, so the same address in other case is a duplicate."""
    user = add_user(session, "  Ada@Example.ORG ")
    assert user.email == "ada@example.org"
    session.add(User(email="ADA@example.org", password_hash="x"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_password_is_hashed_with_argon2_and_checked(session: Session) -> None:
    """The stored hash is argon2id, never the password, and only the right password matches."""
    user = add_user(session)
    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash
    assert user.check_password("a long enough password")
    assert not user.check_password("a long enough passwore")
    assert not user.check_password("")


def test_unknown_role_is_refused(session: Session) -> None:
    """Only learner, instructor and admin are roles."""
    with pytest.raises(ValueError, match="unknown role 'root'"):
        User(email="x@example.org", role="root")


def test_login_id_carries_the_session_version(session: Session) -> None:
    """get_id() changes when the session version is bumped, so old cookies stop matching."""
    user = add_user(session)
    before = user.get_id()
    user.session_version += 1
    session.commit()
    assert before == f"{user.id}:1"
    assert user.get_id() == f"{user.id}:2"


def test_timestamps_come_back_timezone_aware(session: Session) -> None:
    """Datetimes are stored and returned as aware UTC on every backend."""
    user = add_user(session)
    session.expire_all()
    again = session.get(User, user.id)
    assert again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == UTC.utcoffset(None)


def test_double_submit_key_is_unique_per_user(session: Session) -> None:
    """The same idempotency key twice for one user is refused by the database."""
    user = add_user(session)
    add_attempt(session, user, key="k1")
    with pytest.raises(IntegrityError):
        add_attempt(session, user, key="k1")
    session.rollback()
    other = add_user(session, "other@example.org")
    assert add_attempt(session, other, key="k1").id


def test_join_codes_are_readable_and_unique(session: Session) -> None:
    """Join codes avoid look-alike characters; two cohorts cannot share one."""
    code = new_join_code()
    assert re.fullmatch(rf"[{JOIN_CODE_ALPHABET}]{{4}}-[{JOIN_CODE_ALPHABET}]{{4}}", code)
    owner = add_user(session, role="instructor")
    session.add(Cohort(name="A", owner_id=owner.id, join_code="SAME-CODE"))
    session.commit()
    session.add(Cohort(name="B", owner_id=owner.id, join_code="SAME-CODE"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_membership_is_unique_per_cohort_and_user(session: Session) -> None:
    """A learner joins a cohort once."""
    owner = add_user(session, role="instructor")
    learner = add_user(session, "l@example.org")
    cohort = Cohort(name="A", owner_id=owner.id)
    session.add(cohort)
    session.commit()
    first = CohortMembership(cohort_id=cohort.id, user_id=learner.id)
    session.add(first)
    session.commit()
    session.expunge(first)
    session.add(CohortMembership(cohort_id=cohort.id, user_id=learner.id))
    with pytest.raises(IntegrityError):
        session.flush()


def test_deleting_a_user_deletes_their_records_but_keeps_cohorts(session: Session) -> None:
    """Account deletion cascades to attempts, grades, progress, state and memberships in the database."""
    owner = add_user(session, "owner@example.org", role="instructor")
    learner = add_user(session, "learner@example.org")
    cohort = Cohort(name="A", owner_id=owner.id)
    session.add(cohort)
    session.commit()
    attempt = add_attempt(session, learner)
    session.add_all([
        AttemptGrade(attempt_id=attempt.id, score=0.5, passed=False, status="partial", checks=[],
                     grader_version="single_choice/0"),
        LessonProgress(user_id=learner.id, lesson_id="why-close-matters"),
        ExerciseState(user_id=learner.id, exercise_id="why-close-quiz"),
        CohortMembership(cohort_id=cohort.id, user_id=learner.id),
    ])
    session.commit()
    session.delete(learner)
    session.delete(owner)
    session.commit()
    for model in (Attempt, AttemptGrade, LessonProgress, ExerciseState, CohortMembership):
        assert session.scalars(select(model)).all() == [], model.__name__
    session.expire_all()  # the owner id was cleared by the database (ON DELETE SET NULL), not the ORM
    remaining = session.scalars(select(Cohort)).one()
    assert remaining.owner_id is None


def test_exercise_state_seed_is_random_and_private(session: Session) -> None:
    """Each learner's exercise gets a random seed, kept on the server; one state row per learner and exercise."""
    user = add_user(session, "a@example.org")
    state = ExerciseState(user_id=user.id, exercise_id="e")
    session.add(state)
    session.commit()
    assert 0 <= state.shuffle_seed < 2**31
    assert len({new_shuffle_seed() for _ in range(20)}) > 1
    session.expunge(state)
    session.add(ExerciseState(user_id=user.id, exercise_id="e"))
    with pytest.raises(IntegrityError):
        session.flush()


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
])
def test_database_urls_select_psycopg3(given: str, expected: str) -> None:
    """Heroku-style and plain PostgreSQL URLs are rewritten to the psycopg 3 driver."""
    assert normalise_database_url(given) == expected


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path) -> None:
    """Every SQLite connection gets WAL, a 5 s busy timeout and enforced foreign keys."""
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
