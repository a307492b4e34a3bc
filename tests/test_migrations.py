"""Migrations build the schema the models describe, on every database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from models import Base
from models.database import Database


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_do_not_differ(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_diff)

    assert differences == []


async def test_one_owner_per_account_is_an_index(db: Database) -> None:
    def indexes(connection: Connection) -> list[Any]:
        return list(inspect(connection).get_indexes("memberships"))

    async with db.engine.connect() as connection:
        found = await connection.run_sync(indexes)

    owner_index = next(i for i in found if i["name"] == "uq_memberships_one_owner")
    assert owner_index["unique"]
    assert owner_index["column_names"] == ["account_id"]
