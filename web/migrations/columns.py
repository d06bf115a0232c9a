"""Column builders the migrations share.

Written out here rather than taken from web.models, because a migration must not change when the models do:
these builders only spell the column types the revisions already used.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# JSON everywhere, stored as JSONB on PostgreSQL (indexable, compact).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column:
    """Return a timezone-aware timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def ref(name: str, target: str, ondelete: str = "CASCADE", **kwargs: bool) -> sa.Column:
    """Return an integer column referencing `target` (table.column), deleted with it unless ondelete says else."""
    return sa.Column(name, sa.Integer(), sa.ForeignKey(target, ondelete=ondelete), **kwargs)
