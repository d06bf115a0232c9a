"""What the site reads from requests, bounded before it reaches the database: row ids in URLs and query ints."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

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


def init_app(app: Flask) -> None:
    """Register the `id` URL converter; call before any blueprint's routes are added."""
    app.url_map.converters["id"] = RowIdConverter
