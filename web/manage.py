"""Site administration behind the `course` command's site half (web/cli.py): migrations, backups, demo data.

Plain functions that raise `CommandError` for what an operator can fix; tests and benches call them directly.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select
from sqlalchemy.engine import Connection, make_url

from web.extensions import db
from web.models import Cohort, CohortMembership, User
from web.services.accounts import create_user, find_user

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

DEMO_LEARNER = ("learner@demo.example", "demo-learner-pass", "Demo Learner")
DEMO_INSTRUCTOR = ("instructor@demo.example", "demo-instructor-pass", "Demo Instructor")
DEMO_COHORT = ("Demo cohort", "DEMO-2026")


class CommandError(RuntimeError):
    """A command cannot run; the message is shown to the operator without a traceback."""


def alembic_config(url: str, connection: Connection | None = None) -> AlembicConfig:
    """Return an Alembic config for the site's migrations, on a URL or an open connection."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini syntax treats % as interpolation; escape it so passwords with % survive.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head", connection: Connection | None = None) -> None:
    """Apply migrations up to `revision`."""
    alembic_command.upgrade(alembic_config(url, connection), revision)


def downgrade(url: str, revision: str, connection: Connection | None = None) -> None:
    """Revert migrations down to `revision`."""
    alembic_command.downgrade(alembic_config(url, connection), revision)


def _sqlite_path(url: str) -> Path | None:
    """Return the database file of a SQLite URL, or None for other backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise CommandError("an in-memory SQLite database cannot be backed up or restored")
    return Path(parsed.database)


def _pg_url(url: str) -> str:
    """Return a libpq URL (no +driver) that pg_dump and psql understand."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def backup(url: str, dest: Path) -> None:
    """Write a consistent copy of the database to `dest` (SQLite file or PostgreSQL SQL dump)."""
    db_file = _sqlite_path(url)
    if db_file is not None:
        if not db_file.exists():
            raise CommandError(f"database file {db_file} does not exist")
        # The backup API copies a consistent snapshot even while the site is writing (WAL mode).
        with sqlite3.connect(db_file) as src, sqlite3.connect(dest) as out:
            src.backup(out)
        return
    if shutil.which("pg_dump") is None:
        raise CommandError("pg_dump is not installed; install the PostgreSQL client tools")
    with open(dest, "wb") as fh:
        proc = subprocess.run(["pg_dump", "--clean", "--if-exists", "--no-owner", _pg_url(url)], stdout=fh,
                              stderr=subprocess.PIPE, check=False)
    if proc.returncode:
        raise CommandError(f"pg_dump failed: {proc.stderr.decode(errors='replace').strip()}")


def restore(url: str, src: Path) -> None:
    """Replace the database with a backup made by `backup`."""
    if not src.exists():
        raise CommandError(f"backup file {src} does not exist")
    db_file = _sqlite_path(url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(src) as source, sqlite3.connect(db_file) as target:
            source.backup(target)
        return
    if shutil.which("psql") is None:
        raise CommandError("psql is not installed; install the PostgreSQL client tools")
    proc = subprocess.run(["psql", "--quiet", "--set", "ON_ERROR_STOP=1", "--single-transaction", "--file", str(src),
                           _pg_url(url)], capture_output=True, check=False)
    if proc.returncode:
        raise CommandError(f"psql restore failed: {proc.stderr.decode(errors='replace').strip()}")


def ensure_demo() -> list[tuple[str, str, str]]:
    """Create the demo learner, instructor and cohort if missing; return (role, email, password) rows."""
    rows = []
    users: dict[str, User] = {}
    for role, (email, password, name) in (("learner", DEMO_LEARNER), ("instructor", DEMO_INSTRUCTOR)):
        user = find_user(email)
        if user is None:
            user = create_user(email, password, role=role, display_name=name)
        else:
            # Re-running demo resets the known password, so the printed credentials always work.
            user.set_password(password)
            db.session.commit()
        users[role] = user
        rows.append((role, email, password))
    cohort = db.session.scalar(select(Cohort).where(Cohort.join_code == DEMO_COHORT[1]))
    if cohort is None:
        cohort = Cohort(name=DEMO_COHORT[0], join_code=DEMO_COHORT[1], owner_id=users["instructor"].id)
        db.session.add(cohort)
        db.session.flush()
    learner_id = users["learner"].id
    if db.session.get(CohortMembership, (cohort.id, learner_id)) is None:
        db.session.add(CohortMembership(cohort_id=cohort.id, user_id=learner_id))
    db.session.commit()
    return rows
