"""Column builders the migrations share.

Written out here rather than taken from web.models, because a migration must not change when the models do:
these builders only spell the column types the revisions already used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON everywhere, stored as JSONB on PostgreSQL (indexable, compact).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column:
    """Return a timezone-aware timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def ref(name: str, target: str, ondelete: str = "CASCADE", **kwargs: bool) -> sa.Column:
    """Return an integer column referencing `target` (table.column), deleted with it unless ondelete says else."""
    return sa.Column(name, sa.Integer(), sa.ForeignKey(target, ondelete=ondelete), **kwargs)


def drop_column_in_place(table: str, column: str) -> None:
    """Drop a column without rebuilding its table.

    SQLite 3.35+ drops a column in place; Alembic would rebuild the table there, and the rebuild's DROP TABLE
    cascades into the rows of every table that references it (see 0002). Other databases drop it in place anyway.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
