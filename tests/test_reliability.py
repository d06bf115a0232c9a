"""Reliability: a worker killed inside the submit transaction, migrations both ways with data, live backup/restore.

Each test runs on a scratch SQLite file and, when TEST_DATABASE_URL is set, on a scratch PostgreSQL database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, table, text
from sqlalchemy.engine import Connection, make_url

from tests.servers import (
    BIN,
    REPO,
    Gunicorn,
    create_user,
    database_kinds,
    free_port,
    gunicorn,
    scratch_database,
    site_env,
    wait_until_up,
)
from web.extensions import Base, make_engine
from web.manage import alembic_config, downgrade, upgrade
from web.models import (
    Appeal,
    Attempt,
    AttemptGrade,
    AttemptOverride,
    Certificate,
    Cohort,
    CohortMembership,
    ExerciseState,
    LessonProgress,
    ReviewDecision,
    SavedDraft,
    User,
    hash_password,
    utcnow,
)
from web.services import summaries

pytestmark = pytest.mark.db
PASSWORD = "reliable-password-1"
PAUSE_SECONDS = 6
# gunicorn builds the app with TESTING on and the submit pause set (a literal call, parsed by gunicorn).
PAUSING_APP = f"web:create_app({{'TESTING': True, 'TEST_SUBMIT_PAUSE_SECONDS': {PAUSE_SECONDS}}})"
COURSE = [str(BIN / "course")]


@pytest.fixture(params=database_kinds())
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty scratch database of each configured kind."""
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """Return an engine on the scratch database, disposed afterwards (so PostgreSQL can drop it)."""
    eng = make_engine(database)
    yield eng
    eng.dispose()


def workers_of(server: Gunicorn) -> list[int]:
    """Return the pids of the gunicorn master's worker processes."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def write_transaction_open(url: str, engine: Engine) -> bool:
    """Return True while some other connection holds an open write transaction on the database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        probe = sqlite3.connect(parsed.database, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            return True
        finally:
            probe.close()
    with engine.connect() as conn:
        busy = conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND query ILIKE 'INSERT INTO attempts%'"))
    return bool(busy)


def assert_rows_complete(engine: Engine) -> None:
    """Every attempt is whole, and no row points at a missing parent."""
    with engine.connect() as conn:
        for attempt in conn.execute(select(Attempt.__table__)).mappings():
            assert attempt["status"] in ("correct", "partial", "incorrect"), attempt
            assert attempt["score"] is not None and 0 <= attempt["score"] <= 1, attempt
            assert attempt["grader_version"] and attempt["idempotency_key"], attempt
            assert isinstance(attempt["checks"], list) and attempt["attempt_number"] >= 1, attempt
        users = select(User.id)
        orphans = {
            "attempts": select(func.count()).select_from(Attempt).where(Attempt.user_id.not_in(users)),
            "attempt_grades": select(func.count()).select_from(AttemptGrade).where(
                AttemptGrade.attempt_id.not_in(select(Attempt.id))),
            "memberships": select(func.count()).select_from(CohortMembership).where(
                CohortMembership.user_id.not_in(users) | CohortMembership.cohort_id.not_in(select(Cohort.id))),
            "lesson_progress": select(func.count()).select_from(LessonProgress).where(
                LessonProgress.user_id.not_in(users)),
            "exercise_states": select(func.count()).select_from(ExerciseState).where(
                ExerciseState.user_id.not_in(users)),
            "certificates": select(func.count()).select_from(Certificate).where(Certificate.user_id.not_in(users)),
        }
        for table, query in orphans.items():
            assert conn.scalar(query) == 0, f"orphan rows in {table}"
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []


def count(engine: Engine, model) -> int:
    """Return the number of rows of a model's table."""
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


# Killed worker -----------------------------------------------------------------------------------------------------


def test_worker_killed_inside_submit_transaction_leaves_no_partial_rows(database, engine, tmp_path):
    """SIGKILL the workers while a submission's INSERT is uncommitted: nothing is stored, nothing stays locked."""
    env = site_env(database)
    with gunicorn(env, tmp_path, workers=2, app_spec=PAUSING_APP) as server:
        create_user(env, "killed@example.org", PASSWORD)
        client = server.client()
        assert client.login("killed@example.org", PASSWORD) == 302
        form = client.choice_form("/exercises/why-close-quiz")
        outcome: list = []

        def post() -> None:
            """Send the submission; the connection dies with the worker."""
            try:
                outcome.append(client.request("POST", "/exercises/why-close-quiz", form))
            except Exception as exc:  # noqa: BLE001 - the expected reset is checked below
                outcome.append(exc)

        sender = threading.Thread(target=post)
        sender.start()
        deadline = time.monotonic() + PAUSE_SECONDS - 1
        while not write_transaction_open(database, engine):
            assert time.monotonic() < deadline, "the submission never opened its write transaction"
            time.sleep(0.05)
        for pid in workers_of(server):
            os.kill(pid, signal.SIGKILL)
        sender.join(timeout=30)
        assert outcome and isinstance(outcome[0], Exception), f"the request finished despite the kill: {outcome}"

        wait_until_up(server)
        assert count(engine, Attempt) == 0, "a killed transaction left an attempt behind"
        assert not write_transaction_open(database, engine), "the killed worker's lock is still held"
        assert_rows_complete(engine)

        # The learner presses the button again with the same form: it is stored once, whole.
        retry = server.client()
        retry.cookies = dict(client.cookies)
        status, headers, _ = retry.request("POST", "/exercises/why-close-quiz", form)
        assert status == 303, status
        assert count(engine, Attempt) == 1
        assert_rows_complete(engine)


# Migrations --------------------------------------------------------------------------------------------------------


def revision_pairs(url: str) -> list[tuple[str, str]]:
    """Return (lower, upper) for every migration step, newest first; lower 'base' for the first revision."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [(rev.down_revision or "base", rev.revision) for rev in script.walk_revisions()]


def seed_rows(engine: Engine) -> dict[str, int]:
    """Write one row into every table at head; return each table's row count."""
    now = utcnow()
    with engine.begin() as conn:
        user_id = conn.execute(User.__table__.insert().values(
            email=f"m-{uuid.uuid4().hex[:6]}@example.org", display_name="Mig", password_hash=hash_password(PASSWORD),
            role="learner", session_version=1, created_at=now)).inserted_primary_key[0]
        owner_id = conn.execute(User.__table__.insert().values(
            email=f"o-{uuid.uuid4().hex[:6]}@example.org", display_name="Own", password_hash="x",
            role="instructor", session_version=1, created_at=now)).inserted_primary_key[0]
        cohort_id = conn.execute(Cohort.__table__.insert().values(
            name="Mig cohort", owner_id=owner_id, join_code="MIGR-2345", archived=False,
            created_at=now)).inserted_primary_key[0]
        conn.execute(CohortMembership.__table__.insert().values(cohort_id=cohort_id, user_id=user_id, joined_at=now))
        attempt_id = conn.execute(Attempt.__table__.insert().values(
            user_id=user_id, exercise_id="why-close-quiz", answer={"a": ["b"]}, score=0.5, passed=False,
            status="partial", checks=[{"id": "c"}], grader_version="t/1", message="", answer_text="",
            created_at=now, idempotency_key=uuid.uuid4().hex, attempt_number=1)).inserted_primary_key[0]
        summaries.refresh(conn, "why-close-quiz", [user_id])
        conn.execute(AttemptGrade.__table__.insert().values(
            attempt_id=attempt_id, score=0.4, passed=False, status="partial", checks=[], grader_version="t/0",
            created_at=now, reason="regrade"))
        conn.execute(Appeal.__table__.insert().values(
            attempt_id=attempt_id, user_id=user_id, reason="Look again.", state="upheld", comment="Yes.",
            created_at=now, decided_at=now, decided_by=owner_id))
        conn.execute(AttemptOverride.__table__.insert().values(
            attempt_id=attempt_id, passed=True, score=0.9, comment="Yes.", decided_by=owner_id, decided_at=now))
        conn.execute(ReviewDecision.__table__.insert().values(
            attempt_id=attempt_id, actor_id=owner_id, created_at=now, action="override", old_passed=False,
            old_score=0.5, new_passed=True, new_score=0.9, comment="Yes."))
        conn.execute(LessonProgress.__table__.insert().values(
            user_id=user_id, lesson_id="why-close-matters", first_read_at=now, last_read_at=now))
        conn.execute(ExerciseState.__table__.insert().values(user_id=user_id, exercise_id="why-close-quiz",
                                                             shuffle_seed=12345))
        conn.execute(SavedDraft.__table__.insert().values(token=uuid.uuid4().hex, exercise_id="why-close-quiz",
                                                          fields=[["answer", "x"]], created_at=now))
        conn.execute(Certificate.__table__.insert().values(user_id=user_id, code=uuid.uuid4().hex, completed_at=now,
                                                           created_at=now))
        seed_lti_rows(conn, user_id, cohort_id, now)
    return snapshot(engine)


def seed_lti_rows(conn: Connection, user_id: int, cohort_id: int, now: datetime) -> None:
    """Write one row into every LTI table (web/services/lti.py)."""
    from web import models as m  # the LTI tables, kept apart from the core ones imported above

    platform_id = conn.execute(m.LtiPlatform.__table__.insert().values(
        name="Mig LMS", issuer="https://lms.example", client_id="c1", auth_login_url="https://lms.example/a",
        auth_token_url="https://lms.example/t", jwks_url="https://lms.example/k", token_audience="",
        frame_origins=["https://lms.example"], created_at=now)).inserted_primary_key[0]
    conn.execute(m.LtiDeployment.__table__.insert().values(platform_id=platform_id, deployment_id="d1"))
    conn.execute(m.LtiKey.__table__.insert().values(kid=uuid.uuid4().hex, private_pem="-", created_at=now))
    conn.execute(m.LtiState.__table__.insert().values(token=uuid.uuid4().hex, kind="login", platform_id=platform_id,
                                                    nonce="n", target="/", created_at=now))
    conn.execute(m.LtiUser.__table__.insert().values(platform_id=platform_id, sub="s1", user_id=user_id))
    context_id = conn.execute(m.LtiContext.__table__.insert().values(
        platform_id=platform_id, context_id="ctx", cohort_id=cohort_id, title="Course",
        memberships_url="")).inserted_primary_key[0]
    link_id = conn.execute(m.LtiResourceLink.__table__.insert().values(
        context_ref=context_id, resource_link_id="l1", title="Link", exercise_id="why-close-quiz",
        lineitem_url="https://lms.example/li/1")).inserted_primary_key[0]
    conn.execute(m.LtiScore.__table__.insert().values(
        link_id=link_id, user_id=user_id, score=0.5, status="pending", tries=0, next_try_at=now, last_error="",
        updated_at=now))


def snapshot(engine: Engine) -> dict[str, int]:
    """Return the row count of every table present (alembic's own table aside)."""
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    with engine.connect() as conn:
        return {t: conn.scalar(select(func.count()).select_from(table(t))) for t in sorted(names)}


def test_migrations_base_to_head_and_back_on_an_empty_database(database, engine):
    """Upgrade from empty, downgrade to base (nothing left), upgrade again (every model table back)."""
    upgrade(database, "head")
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    downgrade(database, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(database, "head")
    engine.dispose()
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_every_migration_step_round_trips_with_data(database, engine):
    """Data written at head survives each downgrade step (in the tables the lower revision has) and the way back."""
    upgrade(database, "head")
    written = seed_rows(engine)
    assert set(written) == set(Base.metadata.tables), "seed_rows must write a row into every table"
    assert all(n >= 1 for n in written.values()), written
    pairs = revision_pairs(database)
    assert pairs, "no migrations found"
    for lower, upper in pairs:
        upgrade(database, upper)
        before = snapshot(engine)
        downgrade(database, lower)
        engine.dispose()
        after_down = snapshot(engine)
        kept = {t: n for t, n in before.items() if t in after_down}
        assert {t: after_down[t] for t in kept} == kept, f"downgrade {upper} -> {lower} lost rows"
        upgrade(database, upper)
        engine.dispose()
        after_up = snapshot(engine)
        assert {t: after_up[t] for t in kept} == kept, f"upgrade {lower} -> {upper} lost rows"
    upgrade(database, "head")
    engine.dispose()
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert_rows_complete(engine)


# Backup and restore ------------------------------------------------------------------------------------------------


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run a `course` command; return its output, failing with it if the command fails."""
    result = subprocess.run([*COURSE, *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_backup_and_restore_while_the_site_is_serving(database, engine, tmp_path):
    """A backup taken under a stream of submissions is consistent; restoring it brings back exactly that state."""
    env = site_env(database, LOGIN_RATE_LIMIT="1000/minute")
    with gunicorn(env, tmp_path, workers=2) as server:
        create_user(env, "before@example.org", PASSWORD)
        client = server.client()
        assert client.login("before@example.org", PASSWORD) == 302
        stop = threading.Event()
        posted: list[int] = []

        def keep_submitting() -> None:
            """Submit answers until told to stop, as a busy learner would."""
            while not stop.is_set():
                status, _, _ = client.request("POST", "/exercises/why-close-quiz",
                                              client.choice_form("/exercises/why-close-quiz"))
                posted.append(status)

        writer = threading.Thread(target=keep_submitting)
        writer.start()
        try:
            while len(posted) < 5:
                time.sleep(0.05)
            backup = tmp_path / "site.backup"
            run_cli(env, "db", "backup", str(backup))
            # The site kept taking submissions after the backup: it was made under load, not in a lull.
            target = len(posted) + 3
            while len(posted) < target:
                time.sleep(0.05)
        finally:
            stop.set()
            writer.join(timeout=60)
        assert set(posted) == {303}, posted
        assert backup.stat().st_size > 0
        # What the backup holds: restore it into a fresh database and look.
        with _fresh(database, tmp_path) as copy_url:
            copy_env = dict(env, DATABASE_URL=copy_url)
            run_cli(copy_env, "db", "restore", str(backup))
            copy = make_engine(copy_url)
            try:
                at_backup_time = count(copy, Attempt)
                assert 5 <= at_backup_time <= len(posted), (at_backup_time, len(posted))
                assert_rows_complete(copy)
            finally:
                copy.dispose()

        # Restore onto the live site's database while it serves: the later account disappears, the site goes on.
        create_user(env, "after@example.org", PASSWORD)
        run_cli(env, "db", "restore", str(backup))
        engine.dispose()
        assert count(engine, Attempt) == at_backup_time
        assert server.client().login("after@example.org", PASSWORD) == 200, "the post-backup account survived"
        assert server.client().login("before@example.org", PASSWORD) == 302
        assert_rows_complete(engine)


def _fresh(database: str, tmp_path: Path):
    """Return a context manager for an empty database of the same kind as `database`."""
    folder = tmp_path / "restored"
    folder.mkdir(exist_ok=True)
    return scratch_database(make_url(database).get_backend_name(), folder)


def test_backup_refuses_a_missing_database(tmp_path):
    """Backing up a SQLite file that does not exist is a one-line error, not a traceback or an empty backup."""
    env = site_env(f"sqlite:///{tmp_path / 'absent.sqlite3'}")
    result = subprocess.run([*COURSE, "db", "backup", str(tmp_path / "out")], env=env, capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# Redis down ---------------------------------------------------------------------------------------------------------


def test_site_keeps_serving_while_redis_is_down(tmp_path):
    """Redis on a dead port under gunicorn: logins, registration and drafts work, limits hold per worker, it is logged.

    SQLite only: what is tested is the rate-limit storage, which the database kind does not touch.
    """
    with scratch_database("sqlite", tmp_path) as url:
        env = site_env(url, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0", LOGIN_RATE_LIMIT="3/minute")
        with gunicorn(env, tmp_path, workers=1) as server:
            create_user(env, "redis-down@example.org", PASSWORD)
            anonymous = server.client()
            token, _ = anonymous.form_page("/login")
            status, headers, _ = anonymous.request("POST", "/exercises/thank-you-email",
                                                   {"csrf_token": token, "answer": "Kept while Redis is down"})
            assert status == 302 and headers["Location"].startswith("/login"), status
            newcomer = server.client()
            token, _ = newcomer.form_page("/register")
            status, _, _ = newcomer.request("POST", "/register", {
                "csrf_token": token, "email": "newcomer@example.org", "password": PASSWORD, "confirm": PASSWORD})
            assert status == 302, status
            assert server.client().login("redis-down@example.org", PASSWORD) == 302
            guesses = [server.client().login("redis-down@example.org", f"wrong-{i}") for i in range(4)]
            assert guesses == [200, 200, 200, 429], guesses
            status, _, body = server.client().request("GET", "/healthz")
            assert status == 200 and json.loads(body)["status"] == "degraded", body
        log = server.error_log.read_text()
        assert log.count("rate-limit storage redis://127.0.0.1:") == 1, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
