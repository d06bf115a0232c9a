"""What the site reads from requests, made safe before it reaches the database: row ids, query ints, control bytes."""

from __future__ import annotations

import re

from flask import Flask, flash, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import BaseConverter, ValidationError

from web.answers import ANSWER_FIELD_NAMES, ANSWER_FIELD_PREFIXES

# C0 and C1 control characters but tab, line feed and carriage return (answers hold those). PostgreSQL refuses NUL
# in text and JSON, so one in any field was a 500 that lost what the learner typed; the others are never meant.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# How the cleaning notice names a field; exercise fields are all "your answer", others fall back to their name.
FIELD_LABELS = {
    "email": "the email address",
    "display_name": "your name",
    "password": "the password",
    "confirm": "the repeated password",
    "current": "the current password",
    "new": "the new password",
    "code": "the join code",
    "name": "the cohort name",
    "q": "the search",
}

# Ids are Integer columns, 32-bit on PostgreSQL (SQLite's hold 64 bits): a larger number names no row, and sending
# it to the database fails ("integer out of range", or OverflowError past 64 bits) instead of finding nothing.
MAX_ROW_ID = 2**31 - 1
MAX_DIGITS = len(str(MAX_ROW_ID))


def whole_number(value: str) -> int:
    """Return a whole number from 1 to MAX_ROW_ID, else raise ValueError (use as `request.args.get(name, type=...)`)."""
    # The length check first: int() of a 5,000-digit string is slow, and of a longer one raises.
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_DIGITS:
        raise ValueError(f"not a whole number from 1 to {MAX_ROW_ID}: {value[:20]!r}")
    number = int(value)
    if not 1 <= number <= MAX_ROW_ID:
        raise ValueError(f"not a whole number from 1 to {MAX_ROW_ID}: {number}")
    return number


class RowIdConverter(BaseConverter):
    """URL part `<id:name>`: a row id that fits the id columns; anything else is the site's 404."""

    regex = rf"\d{{1,{MAX_DIGITS}}}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        """Return the id, or tell the router this URL matches nothing (0 and too-large numbers)."""
        try:
            return whole_number(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: int) -> str:
        """Write the id into a URL."""
        return str(int(value))


def field_label(name: str) -> str:
    """Return how a message names a form or query field."""
    if name in ANSWER_FIELD_NAMES or name.startswith(ANSWER_FIELD_PREFIXES):
        return "your answer"
    return FIELD_LABELS.get(name, f"the field {name!r}")


def strip_control_characters() -> None:
    """Remove control characters from query and form values, and say from which fields, before anything reads them.

    Stripping rather than refusing keeps everything typed: the request goes on with the cleaned text (an answer is
    graded and shown back on its feedback page), and the notice appears on whichever page comes next.
    """
    labels: list[str] = []
    for source in ("args", "form"):
        data = getattr(request, source)
        pairs = list(data.items(multi=True))
        dirty = [k for k, v in pairs if CONTROL_CHARACTERS.search(k) or CONTROL_CHARACTERS.search(v)]
        if not dirty:
            continue
        # werkzeug caches request.args and request.form per request; replacing them is what every reader then sees.
        setattr(request, source, ImmutableMultiDict(
            [(CONTROL_CHARACTERS.sub("", k), CONTROL_CHARACTERS.sub("", v)) for k, v in pairs]))
        labels.extend(field_label(CONTROL_CHARACTERS.sub("", k)) for k in dirty)
    if labels:
        named = ", ".join(dict.fromkeys(labels))
        flash(f"Invisible control characters (such as NUL bytes) were removed from {named}. "
              "Everything else you typed was kept; check it before you go on.", "error")


def init_app(app: Flask) -> None:
    """Register the `id` URL converter and the control-character cleaning; call before other extensions' hooks.

    The converter must exist before any blueprint's routes are added; the cleaning runs before the CSRF check and
    the rate limits, so a NUL cannot make an email look like a different one to the login limit.
    """
    app.url_map.converters["id"] = RowIdConverter
    app.before_request(strip_control_characters)
