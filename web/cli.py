"""The installed `course` command: course/cli.py's content commands plus the site's (web/site_commands.py).

The site's commands need Flask, the database and every blueprint; importing all of that costs more than a
`course check` does, so the module holding them is imported only when one of them is run or listed.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from course.cli import Settings, course_group

if TYPE_CHECKING:
    from flask import Flask

# The site's commands by name, so that `course check` can run without importing them.
SITE_COMMANDS = ("cases", "db", "demo", "lti", "regrade", "serve", "user")


@dataclasses.dataclass(frozen=True)
class SiteSettings(Settings):
    """The group's settings plus the app to run in: none means one built from the environment."""

    app: Flask | None = None

    def load_app(self) -> Flask:
        """Return the given app, or build the site as the server would (a content error stops it here)."""
        if self.app is not None:
            return self.app
        from web import create_app  # the site itself, only for a site command

        return create_app({"COURSE_DIR": self.root} if self.root else None)


class WithSiteCommands(click.Group):
    """The content group, plus the site's commands loaded from web/site_commands.py when one is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, the site's included, without loading them."""
        return sorted({*super().list_commands(ctx), *SITE_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A content command, or a site command (importing the site's module the first time)."""
        if name in SITE_COMMANDS:
            from web import site_commands  # Flask, SQLAlchemy and the blueprints: only now

            return site_commands.COMMANDS[name]
        return super().get_command(ctx, name)


cli = course_group(SiteSettings, cls=WithSiteCommands)
