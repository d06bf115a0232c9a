"""Site administration commands for the `course` CLI: database migrations, backups, users, demo data.

course/cli.py calls `add_commands(subparsers)`; each sub-command it adds sets `func` (args -> exit code)
and the command names are listed in COMMANDS.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import Connection, make_url

from course import cases
from course.errors import ContentErrors
from course.loader import load_course
from web import create_app, lti_cli
from web.config import ConfigError, database_url
from web.extensions import db
from web.models import Cohort, CohortMembership, User
from web.services.accounts import AccountError, create_user, find_user
from web.services.case_export import reviewed_cases
from web.services.lti import LtiError
from web.services.regrade import UnknownExercise, regrade_exercise

COMMANDS = {"db", "user", "demo", "serve", "regrade", "cases", "lti"}
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


def _app(args: argparse.Namespace | None = None) -> Flask:
    """Build the app from the environment, as the server would (the CLI's --root picks the course)."""
    root = getattr(args, "root", None)
    return create_app({"COURSE_DIR": root} if root else None)


def _database_url() -> str:
    """Return the site's database URL without loading the course or needing a SECRET_KEY (for db commands)."""
    # A bare Flask object for the package gives the same instance folder the app uses.
    return database_url(Flask("web", instance_relative_config=True).instance_path)


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


def cmd_db(args: argparse.Namespace) -> int:
    """Run one `course db` action."""
    url = _database_url()
    if args.db_command == "upgrade":
        upgrade(url, args.revision)
        print(f"database upgraded to {args.revision}")
    elif args.db_command == "downgrade":
        downgrade(url, args.revision)
        print(f"database downgraded to {args.revision}")
    elif args.db_command == "backup":
        backup(url, Path(args.path))
        print(f"backup written to {args.path}")
    elif args.db_command == "restore":
        restore(url, Path(args.path))
        print(f"database restored from {args.path}")
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    """Create a user account."""
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Repeat password: ") != password:
                raise CommandError("the passwords do not match")
    app = _app(args)
    with app.app_context():
        user = create_user(args.email, password, role=args.role, display_name=args.name or "")
        print(f"created {user.role} {user.email} (id {user.id})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Create (or refresh) the demo accounts and cohort and print their credentials."""
    app = _app(args)
    with app.app_context():
        rows = ensure_demo()
    print("Demo accounts (change or delete them before going public):")
    for role, email, password in rows:
        print(f"  {role:<10} {email:<26} password: {password}")
    print(f"  cohort     {DEMO_COHORT[0]} (join code {DEMO_COHORT[1]})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the site with Flask's development server (use gunicorn in production)."""
    app = _app(args)
    app.run(host=args.host, port=args.port, debug=False)
    return 0


def cmd_regrade(args: argparse.Namespace) -> int:
    """Regrade one exercise's stored attempts with its current rules; exit 2 for an unknown exercise."""
    # A new app reads the course from disk now, so rules edited since the site started are the ones applied.
    try:
        app = _app(args)
    except ContentErrors as exc:
        raise CommandError(f"the course does not load, so nothing was regraded:\n{exc}") from exc
    with app.app_context():
        try:
            report = regrade_exercise(app.extensions["course"], args.exercise_id, dry_run=args.dry_run)
        except UnknownExercise as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(report.summary())
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    """Export reviewed answers as labelled cases, or check a case file against the current rules."""
    if args.cases_command == "check":
        return _check_cases(args)
    try:
        since = datetime.fromisoformat(args.since).replace(tzinfo=UTC) if args.since else None
    except ValueError:
        raise CommandError(f"--since {args.since!r} is not a date; write it as YYYY-MM-DD") from None
    app = _app(args)
    with app.app_context():
        if args.exercise_id not in app.extensions["course"].exercises:
            raise CommandError(f"unknown exercise {args.exercise_id!r}")
        if app.extensions["course"].exercises[args.exercise_id].type != "text":
            raise CommandError(f"{args.exercise_id} is not a text exercise; only written answers make cases")
        rows = list(reviewed_cases(args.exercise_id, app.config["SECRET_KEY"], args.cohort, since))
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} reviewed answers to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _check_cases(args: argparse.Namespace) -> int:
    """Grade a case file with the current rules and list the disagreements; exit 1 when there are any."""
    course = load_course(getattr(args, "root", None))
    path = Path(args.file)
    exercise_id = args.exercise or path.name.split(".")[0]
    exercise = course.exercises.get(exercise_id)
    if exercise is None:
        raise CommandError(f"no exercise {exercise_id!r}: name it with --exercise (the file name did not)")
    try:
        found = cases.read_cases(path, exercise)
    except ContentErrors as exc:
        raise CommandError(f"{path} has errors, so nothing was graded:\n{exc}") from None
    wrong = cases.disagreements(cases.grade_all(exercise, found))
    for o in wrong:
        want = "pass" if o.case.expected_pass else f"fail ({o.case.deciding_check or 'any check'})"
        got = "pass" if o.passed else f"fail ({', '.join(o.failed) or 'no check'})"
        print(f"{o.case.id} (line {o.case.line}): expected {want}, the rules say {got}")
    print(f"{exercise_id}: {len(found)} cases, {len(wrong)} disagree with the current rules")
    return 1 if wrong else 0


def _guard(func: Any) -> Any:
    """Wrap a command so expected failures print a one-line error and exit 1, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        """Run the command, turning operator errors into messages."""
        try:
            return func(args)
        except (CommandError, AccountError, ConfigError, LtiError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except ContentErrors as exc:
            print(f"error: the course content has errors, so the site cannot start:\n{exc}", file=sys.stderr)
            return 1

    run.__doc__ = func.__doc__
    return run


def add_commands(subparsers: Any) -> None:
    """Add the db, user, demo, regrade, cases and serve sub-commands to the `course` CLI's subparsers."""
    p_db = subparsers.add_parser("db", help="database migrations, backup and restore")
    db_sub = p_db.add_subparsers(dest="db_command", required=True)
    p = db_sub.add_parser("upgrade", help="apply migrations (default: to the newest)")
    p.add_argument("revision", nargs="?", default="head")
    p = db_sub.add_parser("downgrade", help="revert migrations down to REV (e.g. base)")
    p.add_argument("revision", metavar="REV")
    p = db_sub.add_parser("backup", help="copy the database to PATH")
    p.add_argument("path", metavar="PATH")
    p = db_sub.add_parser("restore", help="replace the database with the backup at PATH")
    p.add_argument("path", metavar="PATH")
    p_db.set_defaults(func=_guard(cmd_db))

    p_user = subparsers.add_parser("user", help="manage site accounts")
    user_sub = p_user.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("create", help="create an account (asks for the password if not given)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--role", choices=["learner", "instructor", "admin"], default="learner")
    p.add_argument("--password", help="the password (prefer the prompt: command lines are visible to others)")
    p.add_argument("--name", help="display name")
    p_user.set_defaults(func=_guard(cmd_user))

    p = subparsers.add_parser("demo", help="create demo accounts and a demo cohort, print their passwords")
    p.set_defaults(func=_guard(cmd_demo))

    p = subparsers.add_parser("regrade", help="regrade stored attempts of an exercise with its current rules")
    p.add_argument("exercise_id", metavar="EXERCISE_ID")
    p.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    p.set_defaults(func=_guard(cmd_regrade))

    p_cases = subparsers.add_parser("cases", help="reviewed answers as labelled cases for the grading corpus")
    cases_sub = p_cases.add_subparsers(dest="cases_command", required=True)
    p = cases_sub.add_parser("export", help="write the reviewed answers of a text exercise as corpus rows (JSONL)")
    p.add_argument("exercise_id", metavar="EXERCISE")
    p.add_argument("--cohort", type=int, metavar="ID", help="only learners of this cohort")
    p.add_argument("--since", metavar="DATE", help="only answers reviewed on or after this date (YYYY-MM-DD)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p = cases_sub.add_parser("check", help="grade a case file with the current rules and list disagreements")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--exercise", metavar="ID", help="the exercise (default: the file name, as in the corpus)")
    p_cases.set_defaults(func=_guard(cmd_cases))

    p = subparsers.add_parser("serve", help="serve the site locally (development server)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    p.set_defaults(func=_guard(cmd_serve))

    lti_cli.add_commands(subparsers, _guard, _app)


def main(argv: list[str] | None = None) -> int:
    """Run these commands on their own (python -m web.manage ...), without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="python -m web.manage")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
