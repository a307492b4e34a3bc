"""Applying Alembic migrations from code, for `clientarea serve`, `clientarea db upgrade` and tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from clientarea.catalogue import sync_catalogue
from models.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


async def _load_catalogue(database_url: str) -> None:
    db = Database(database_url)
    try:
        await sync_catalogue(db)
    finally:
        await db.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to `revision`; at head, then make the product catalogue match its file."""
    command.upgrade(alembic_config(database_url), revision)
    if revision == "head":
        # Like Alembic's env, on an event loop of its own: callers are synchronous.
        asyncio.run(_load_catalogue(database_url))
