"""The Alembic migrations build exactly the schema the models describe, and can be reverted."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from web.extensions import Base
from web.manage import MIGRATIONS_DIR, alembic_config, downgrade, upgrade

pytestmark = pytest.mark.db


def test_migrated_schema_matches_the_models(connection: Connection) -> None:
    """Autogenerate finds nothing to add: the hand-written revisions match the models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    assert compare_metadata(context, Base.metadata) == []


def test_migrations_form_one_line_of_history(db_url: str) -> None:
    """There is a single head, so `course db upgrade` never has to choose."""
    script = ScriptDirectory.from_config(alembic_config(db_url))
    assert len(script.get_heads()) == 1
    assert (MIGRATIONS_DIR / "env.py").exists()


def test_downgrade_to_base_and_back(connection: Connection, db_url: str) -> None:
    """Every revision can be reverted and re-applied (inside the test's rolled-back transaction)."""
    downgrade(db_url, "base", connection=connection)
    assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    upgrade(db_url, "head", connection=connection)
    assert {"users", "attempts", "attempt_grades", "cohorts"} <= set(inspect(connection).get_table_names())
