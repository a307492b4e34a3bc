"""Test fixtures: every database test runs on SQLite and, when configured, on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from clientarea.app import create_app
from clientarea.migrate import upgrade
from models import Base
from models.database import Database
from resolvers.core.settings import Settings
from tests.graphql import Api

POSTGRES_URL = os.environ.get("CLIENTAREA_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_CI and not POSTGRES_URL:
        raise pytest.UsageError("CI must set CLIENTAREA_TEST_DATABASE_URL to a PostgreSQL database")


def _worker_database(url: str) -> str:
    """`url` itself, or under parallel test workers a database of this worker's own beside it
    (created from `url` the first time), so that workers never share rows."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    own = parsed.set(database=f"{parsed.database}_{worker}")
    asyncio.run(_create_database(url, own.database or ""))
    return own.render_as_string(hide_password=False)


async def _create_database(url: str, name: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database of each backend, created once per test session."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("set CLIENTAREA_TEST_DATABASE_URL to run the PostgreSQL tests")
        url = _worker_database(POSTGRES_URL)
        # A fresh event loop in this thread: the session's loop is not running yet here.
        asyncio.run(_reset_postgres(url))
    upgrade(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "cookie_secure": True,
        # Cheap argon2 in tests; production uses the RFC 9106 parameters.
        "password_time_cost": 1,
        "password_memory_kib": 1024,
        "password_parallelism": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def production_settings(database_url: str) -> Settings:
    """The production configuration, with every secret it insists on."""
    return make_settings(
        database_url,
        env="production",
        secret_key="k" * 40,
        sso_signing_key="s" * 40,
        sso_panel_secret="p" * 40,
        two_factor_keys=[Fernet.generate_key().decode()],
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    async with database.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(table.delete())
    await database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database) -> object:
    return create_app(settings, db)


@pytest.fixture
async def api(app: object, db: Database) -> AsyncIterator[Api]:
    """A GraphQL client for one browser (its own cookie jar); `api.new()` makes another."""
    created: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="https://testserver",
        )
        created.append(c)
        return c

    yield Api(client, db)
    for c in created:
        await c.aclose()


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")


ROOT = Path(__file__).resolve().parent.parent
