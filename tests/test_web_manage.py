"""Site commands of the `course` CLI: migrations, backup and restore, accounts, demo data."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from tests.conftest import BACKENDS, WEB_COURSE, scratch_postgres
from web import create_app
from web.config import ConfigError
from web.extensions import db, make_engine
from web.manage import DEMO_COHORT, DEMO_INSTRUCTOR, DEMO_LEARNER, backup, ensure_demo, restore, upgrade
from web.models import Cohort, CohortMembership, User

pytestmark = pytest.mark.db


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    """Point the CLI at a fresh SQLite file in development mode, with the test course."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("COURSE_DIR", str(WEB_COURSE))
    # A key of its own, so no development key file is written into the instance folder.
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret-key")
    return url


def count_users(url: str) -> int:
    """Count the accounts in a database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM users")).scalar_one()
    finally:
        engine.dispose()


def test_cli_upgrade_user_create_and_demo(cli_env, runner):
    """`course db upgrade`, `course user create` and `course demo` work end to end; errors are one line."""
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["user", "create", "--role", "instructor", "Tutor@Example.org", "--password",
                                 "a long enough password", "--name", "Pat"])
    assert result.exit_code == 0
    assert "created instructor tutor@example.org" in result.stdout
    result = runner.invoke(args=["user", "create", "tutor@example.org", "--password", "a long enough password"])
    assert result.exit_code == 1
    err = result.stderr
    assert "already exists" in err and "Traceback" not in err
    result = runner.invoke(args=["user", "create", "x@example.org", "--password", "short"])
    assert result.exit_code == 1
    assert "at least 10 characters" in result.stderr
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0
    out = result.stdout
    assert DEMO_LEARNER[1] in out and DEMO_INSTRUCTOR[1] in out and DEMO_COHORT[1] in out
    assert runner.invoke(args=["demo"]).exit_code == 0  # idempotent
    assert count_users(cli_env) == 3


def test_cli_user_create_reads_a_piped_password(cli_env, runner):
    """Without --password and without a terminal, the password is the first line of stdin (`< password.txt`)."""
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["user", "create", "piped@example.org"], input="a piped long password\nignored\n")
    assert result.exit_code == 0 and "created learner piped@example.org" in result.stdout
    app = create_app()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "piped@example.org"))
        assert user.check_password("a piped long password")


def test_cli_reports_content_errors_without_traceback(cli_env, monkeypatch, tmp_path, runner):
    """A command that needs the site fails with the course's errors listed, not a traceback."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "course.yaml").write_text("title: [\n")
    monkeypatch.setenv("COURSE_DIR", str(broken))
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0  # migrations do not need the course
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    err = result.stderr
    assert "course.yaml" in err and "Traceback" not in err


def test_cli_refuses_production_without_secret_key(cli_env, monkeypatch, runner):
    """Outside development the site commands name the missing SECRET_KEY."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY")
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "SECRET_KEY" in result.stderr


def test_sqlite_folder_that_cannot_be_made_is_a_one_line_error(cli_env, monkeypatch, runner, tmp_path):
    """A file where the SQLite database's folder should be: start-up and the CLI say DATABASE_URL, in one line."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{blocker / 'course.sqlite3'}")
    with pytest.raises(ConfigError, match=r"^DATABASE_URL names a SQLite file in .*not-a-folder"):
        create_app({"TESTING": True, "COURSE_DIR": str(WEB_COURSE)})
    for command in (["db", "upgrade"], ["demo"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 1, command
        err = result.stderr
        assert err.startswith("error: DATABASE_URL") and len(err.strip().splitlines()) == 1, err


def test_demo_is_idempotent(app):
    """Running the demo set-up twice leaves two users, one cohort and one membership."""
    ensure_demo()
    ensure_demo()
    assert db.session.scalar(select(func.count()).select_from(User)) == 2
    cohort = db.session.scalar(select(Cohort).where(Cohort.join_code == DEMO_COHORT[1]))
    assert cohort.owner.email == DEMO_INSTRUCTOR[0]
    assert db.session.scalar(select(func.count()).select_from(CohortMembership)) == 1
    learner = db.session.scalar(select(User).where(User.email == DEMO_LEARNER[0]))
    assert learner.role == "learner" and learner.check_password(DEMO_LEARNER[1])


def _add_user(url: str, email: str) -> None:
    """Insert one account directly."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (email, display_name, password_hash, role, session_version, created_at)"
                          " VALUES (:e, '', 'x', 'learner', 1, CURRENT_TIMESTAMP)"), {"e": email})
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def scratch_url(request, tmp_path):
    """Return the URL of an empty database of each backend that the test may fill and replace."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'site.sqlite3'}"
        return
    with scratch_postgres("backup") as url:
        yield url


def test_backup_and_restore(scratch_url, tmp_path):
    """Back up, change the data, restore: the data is as it was (SQLite backup API; pg_dump and psql)."""
    upgrade(scratch_url)
    _add_user(scratch_url, "kept@example.org")
    dump = tmp_path / "backup.dump"
    backup(scratch_url, dump)
    _add_user(scratch_url, "after-backup@example.org")
    assert count_users(scratch_url) == 2
    restore(scratch_url, dump)
    assert count_users(scratch_url) == 1


def test_restore_of_a_missing_file_is_a_clear_error(tmp_path, cli_env, runner):
    """Restoring from a file that is not there names the file."""
    result = runner.invoke(args=["db", "restore", str(tmp_path / "nope.db")])
    assert result.exit_code == 1
    assert "nope.db does not exist" in result.stderr
