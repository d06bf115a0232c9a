"""The site's commands of the installed `course` command (db, user, demo, regrade, cases, serve, lti); web/cli.py
adds them to course/cli.py's content commands, loading this module only when one of them runs.

Site commands build the app from the environment, as the server would (`--root` picks the course); a test hands
in its own app through `SiteSettings`. What an operator can fix ends a command with one line, `error: ...`, and
exit 1 (an unknown exercise to regrade: 2), never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from flask import Flask

from course import cases
from course.cli import CommandFailed
from course.errors import ContentErrors
from course.loader import load_course
from web import manage
from web.cli import SiteSettings
from web.config import ConfigError, database_url
from web.security import public_url
from web.services import lti as lti_svc
from web.services.accounts import AccountError, create_user
from web.services.case_export import reviewed_cases
from web.services.regrade import UnknownExercise, grading_pool, regrade_course, regrade_exercise


class SiteError(CommandFailed):
    """A site command cannot run: `error: <reason>` (the course's errors may follow on more lines), exit 1."""

    prefix = "error"
    exit_code = 1


class SiteCommand(click.Command):
    """A command whose operator errors (bad settings, a taken email, a broken course) become a `SiteError`."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning the errors an operator can fix into one-line messages."""
        try:
            return super().invoke(ctx)
        except (manage.CommandError, AccountError, ConfigError, lti_svc.LtiError) as exc:
            raise SiteError(str(exc)) from None
        except ContentErrors as exc:
            raise SiteError(f"the course content has errors, so the site cannot start:\n{exc}") from None


class SiteGroup(click.Group):
    """A group of site commands: each of its commands is a `SiteCommand`."""

    command_class = SiteCommand


def _database_url() -> str:
    """Return the site's database URL without loading the course or needing a SECRET_KEY (for db commands)."""
    # A bare Flask object for the package gives the same instance folder the app uses.
    return database_url(Flask("web", instance_relative_config=True).instance_path)


# --------------------------------------------------------------------------------------------------- db


@click.group("db", cls=SiteGroup)
def db_group() -> None:
    """Database migrations, backup and restore."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (default: to the newest)."""
    manage.upgrade(_database_url(), revision)
    click.echo(f"database upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision", metavar="REV")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REV (e.g. base)."""
    manage.downgrade(_database_url(), revision)
    click.echo(f"database downgraded to {revision}")


@db_group.command("backup")
@click.argument("path", metavar="PATH", type=click.Path(path_type=Path))
def db_backup(path: Path) -> None:
    """Copy the database to PATH."""
    manage.backup(_database_url(), path)
    click.echo(f"backup written to {path}")


@db_group.command("restore")
@click.argument("path", metavar="PATH", type=click.Path(path_type=Path))
def db_restore(path: Path) -> None:
    """Replace the database with the backup at PATH."""
    manage.restore(_database_url(), path)
    click.echo(f"database restored from {path}")


# --------------------------------------------------------------------------------------------------- accounts


@click.group("user", cls=SiteGroup)
def user_group() -> None:
    """Manage site accounts."""


def _password() -> str:
    """Read the password from a pipe or file, else ask for it twice at the terminal without echoing it."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")


@user_group.command("create")
@click.argument("email", metavar="EMAIL")
@click.option("--role", type=click.Choice(["learner", "instructor", "admin"]), default="learner", show_default=True)
@click.option("--password", help="the password (prefer the prompt: command lines are visible to others)")
@click.option("--name", help="display name")
@click.pass_obj
def user_create(settings: SiteSettings, email: str, role: str, password: str | None, name: str | None) -> None:
    """Create an account (asks for the password if not given)."""
    password = _password() if password is None else password
    app = settings.load_app()
    with app.app_context():
        user = create_user(email, password, role=role, display_name=name or "")
        click.echo(f"created {user.role} {user.email} (id {user.id})")


@click.command("demo", cls=SiteCommand)
@click.pass_obj
def demo(settings: SiteSettings) -> None:
    """Create demo accounts and a demo cohort, print their passwords."""
    app = settings.load_app()
    with app.app_context():
        rows = manage.ensure_demo()
    click.echo("Demo accounts (change or delete them before going public):")
    for role, email, password in rows:
        click.echo(f"  {role:<10} {email:<26} password: {password}")
    click.echo(f"  cohort     {manage.DEMO_COHORT[0]} (join code {manage.DEMO_COHORT[1]})")


# --------------------------------------------------------------------------------------------------- grading


@click.command("regrade", cls=SiteCommand)
@click.argument("exercise_ids", nargs=-1, metavar="EXERCISE_ID...")
@click.option("--all", "every", is_flag=True, help="regrade every exercise of the course")
@click.option("--dry-run", is_flag=True, help="report what would change, write nothing")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="grade in this many processes; each takes a core from the site while the regrade runs")
@click.pass_obj
def regrade(settings: SiteSettings, exercise_ids: tuple[str, ...], every: bool, dry_run: bool, workers: int) -> None:
    """Regrade stored attempts of one or more exercises (or --all) with their current rules."""
    if bool(exercise_ids) == every:
        raise SiteError("name the exercises to regrade, or pass --all for every exercise (not both)", code=2)
    # A new app reads the course from disk now, so rules edited since the site started are the ones applied.
    try:
        app = settings.load_app()
    except ContentErrors as exc:
        raise SiteError(f"the course does not load, so nothing was regraded:\n{exc}") from exc
    with app.app_context():
        course = app.extensions["course"]
        try:
            if len(exercise_ids) == 1:
                with grading_pool(course, workers) as pool:
                    reports = [regrade_exercise(course, exercise_ids[0], dry_run=dry_run, pool=pool)]
            else:
                # Several exercises: the learners' course totals are summed once at the end, not once per exercise.
                reports = regrade_course(course, list(exercise_ids) or None, dry_run=dry_run, workers=workers)
        except UnknownExercise as exc:
            raise SiteError(str(exc), code=2) from None
    for report in reports:
        click.echo(report.summary())
    if len(reports) > 1:
        verb = "would change" if dry_run else "changed"
        click.echo(f"{len(reports)} exercises: {verb} {sum(r.changed for r in reports)} of "
                   f"{sum(r.regraded for r in reports)} results")


@click.group("cases", cls=SiteGroup)
def cases_group() -> None:
    """Reviewed answers as labelled cases for the grading corpus."""


@cases_group.command("export")
@click.argument("exercise_id", metavar="EXERCISE")
@click.option("--cohort", type=int, metavar="ID", help="only learners of this cohort")
@click.option("--since", metavar="DATE", help="only answers reviewed on or after this date (YYYY-MM-DD)")
@click.option("--output", type=click.File("w", encoding="utf-8", lazy=True), metavar="FILE",
              help="write to FILE instead of standard output")
@click.pass_obj
def cases_export(settings: SiteSettings, exercise_id: str, cohort: int | None, since: str | None,
                 output: TextIO | None) -> None:
    """Write the reviewed answers of a text exercise as corpus rows (JSONL)."""
    try:
        after = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
    except ValueError:
        raise SiteError(f"--since {since!r} is not a date; write it as YYYY-MM-DD") from None
    app = settings.load_app()
    with app.app_context():
        exercises = app.extensions["course"].exercises
        if exercise_id not in exercises:
            raise SiteError(f"unknown exercise {exercise_id!r}")
        if exercises[exercise_id].type != "text":
            raise SiteError(f"{exercise_id} is not a text exercise; only written answers make cases")
        rows = list(reviewed_cases(exercise_id, app.config["SECRET_KEY"], cohort, after))
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write(text)
    click.echo(f"wrote {len(rows)} reviewed answers to {output.name}", err=True)


@cases_group.command("check")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--exercise", metavar="ID", help="the exercise (default: the file name, as in the corpus)")
@click.pass_context
def cases_check(ctx: click.Context, path: Path, exercise: str | None) -> None:
    """Grade a case file with the current rules and list disagreements (exit 1 when there are any)."""
    course = load_course(ctx.obj.root)
    exercise_id = exercise or path.name.split(".")[0]
    found_exercise = course.exercises.get(exercise_id)
    if found_exercise is None:
        raise SiteError(f"no exercise {exercise_id!r}: name it with --exercise (the file name did not)")
    try:
        found = cases.read_cases(path, found_exercise)
    except ContentErrors as exc:
        raise SiteError(f"{path} has errors, so nothing was graded:\n{exc}") from None
    wrong = cases.disagreements(cases.grade_all(found_exercise, found))
    for o in wrong:
        want = "pass" if o.case.expected_pass else f"fail ({o.case.deciding_check or 'any check'})"
        got = "pass" if o.passed else f"fail ({', '.join(o.failed) or 'no check'})"
        click.echo(f"{o.case.id} (line {o.case.line}): expected {want}, the rules say {got}")
    click.echo(f"{exercise_id}: {len(found)} cases, {len(wrong)} disagree with the current rules")
    if wrong:
        ctx.exit(1)


# --------------------------------------------------------------------------------------------------- serving


@click.command("serve", cls=SiteCommand, short_help="Serve the site locally (development server).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "5000")), help="default: $PORT, else 5000")
@click.pass_obj
def serve(settings: SiteSettings, host: str, port: int) -> None:
    """Serve the site locally (development server: use gunicorn in production)."""
    settings.load_app().run(host=host, port=port, debug=False)


# --------------------------------------------------------------------------------------------------- LTI 1.3


@click.group("lti", cls=SiteGroup)
def lti_group() -> None:
    """LTI 1.3: register LMS platforms, rotate keys, push scores."""


@contextmanager
def _in_site(settings: SiteSettings) -> Iterator[None]:
    """Run inside the site's app and a request to it, so `public_url` can name the tool's addresses."""
    app = settings.load_app()
    with app.test_request_context("/"), app.app_context():
        yield


def _tool_urls() -> dict[str, str]:
    """Return the tool's own addresses an LMS administrator pastes into the registration."""
    return {"login URL": public_url("lti.login"), "launch (redirect) URL": public_url("lti.launch"),
            "public key set URL": public_url("lti.jwks")}


@lti_group.command("add-platform")
@click.option("--issuer", required=True, help="the platform's issuer (iss), e.g. https://canvas.instructure.com")
@click.option("--client-id", required=True, help="the client id the platform gave the tool")
@click.option("--auth-login-url", required=True, help="the platform's OIDC authorisation endpoint")
@click.option("--token-url", required=True, help="the platform's OAuth2 token endpoint")
@click.option("--jwks-url", required=True, help="the platform's public key set URL")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True,
              help="a deployment id (repeat for more)")
@click.option("--name", help="a name for people, e.g. 'University Canvas'")
@click.option("--frame-origin", "frame_origins", multiple=True,
              help="an origin that frames the tool, e.g. https://school.instructure.com (repeat for more; "
                   "default: the issuer's and login URL's origins)")
@click.option("--token-audience", help="the aud of client assertions when it is not the token URL")
@click.pass_obj
def lti_add_platform(settings: SiteSettings, issuer: str, client_id: str, auth_login_url: str, token_url: str,
                     jwks_url: str, deployment_ids: tuple[str, ...], name: str | None, frame_origins: tuple[str, ...],
                     token_audience: str | None) -> None:
    """Register an LMS (or update it and add deployment ids)."""
    with _in_site(settings):
        platform = lti_svc.add_platform(
            issuer=issuer, client_id=client_id, auth_login_url=auth_login_url, auth_token_url=token_url,
            jwks_url=jwks_url, deployment_ids=list(deployment_ids), name=name or "",
            frame_origins=list(frame_origins), token_audience=token_audience or "")
        click.echo(f"platform {platform.id} {platform.name}: issuer {platform.issuer}, client id {platform.client_id}, "
                   f"deployments {', '.join(d.deployment_id for d in platform.deployments)}")
        click.echo(f"  may frame the tool: {', '.join(platform.frame_origins)}")
        for label, url in _tool_urls().items():
            click.echo(f"  tool {label}: {url}")


@lti_group.command("list")
@click.pass_obj
def lti_list(settings: SiteSettings) -> None:
    """List the registered platforms."""
    with _in_site(settings):
        for platform in lti_svc.platforms():
            click.echo(f"{platform.id}\t{platform.name}\t{platform.issuer}\t{platform.client_id}\t"
                       f"{','.join(d.deployment_id for d in platform.deployments)}")


@lti_group.command("rotate-key")
@click.option("--keep-days", type=int, default=lti_svc.DEFAULT_KEEP_DAYS, show_default=True)
@click.pass_obj
def lti_rotate_key(settings: SiteSettings, keep_days: int) -> None:
    """Make a new signing key; old ones stay published for --keep-days."""
    with _in_site(settings):
        key = lti_svc.rotate_key(keep_days)
        click.echo(f"new signing key {key.kid}; older keys stay in the key set for {keep_days} days")


@lti_group.command("registration-url")
@click.pass_obj
def lti_registration_url(settings: SiteSettings) -> None:
    """Print a dynamic registration URL for an LMS (good for 7 days)."""
    with _in_site(settings):
        click.echo("Give this address to the LMS as the tool's dynamic registration URL (good for 7 days):")
        click.echo(public_url("lti.register", key=lti_svc.registration_key()))


@lti_group.command("sync")
@click.option("--retry-failed", is_flag=True, help="also resend scores a platform refused")
@click.pass_obj
def lti_sync(settings: SiteSettings, retry_failed: bool) -> None:
    """Send the scores waiting in the outbox to the platforms now."""
    with _in_site(settings):
        click.echo(lti_svc.push_due(include_failed=retry_failed).summary())


# --------------------------------------------------------------------------------------------------- the command

# By name, as `course` lists them (web/cli.py names them too, so that listing them needs no import of this module).
COMMANDS = {c.name: c for c in (db_group, user_group, demo, regrade, cases_group, serve, lti_group)}
