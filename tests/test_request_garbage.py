"""A request's rows, loader futures and nodes are freed when its answer is built, not by the
collector's later passes (resolvers/core/context.py `Context.close`): under load, leaving them in
reference cycles made the collector walk hundreds of thousands of objects in one pause."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from aiodataloader import DataLoader

from benchmarks.read_paths import ASGIClient, operations, populate
from clientarea.app import create_app
from models.base import Base
from models.database import Database
from resolvers.core.settings import Settings
from schema.core.base import Node

ROUNDS = 3


@pytest.fixture
def garbage_kept() -> Iterator[list[object]]:
    """The objects the next `gc.collect()` finds unreachable (kept for inspection)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize(
    "name", ["DashboardAccounts", "PartnerServices", "ExpiringDomains", "AccountOverview"]
)
async def test_a_read_leaves_no_rows_for_the_collector(
    db: Database, settings: Settings, name: str, garbage_kept: list[object]
) -> None:
    # Given an agency with ten accounts, and a warmed-up app
    world = await populate(db, settings, 10, 2)
    client = ASGIClient(create_app(settings, db), base_url="https://testserver")
    client.cookies.set(settings.cookie_name, world.cookie)
    body = operations(world)[name]
    for _ in range(ROUNDS):
        assert (await client.post("/graphql", json=body)).status_code == 200
    gc.collect()
    garbage_kept.clear()

    # When it answers the read a few times
    for _ in range(ROUNDS):
        response = await client.post("/graphql", json=body)
        assert response.status_code == 200
        assert "errors" not in response.json()
    gc.collect()

    # Then what only the collector could free (the context, in graphql-core's executor's cycle)
    # holds no row, loader, loader future or node any more
    held = [
        type(item).__name__
        for item in garbage_kept
        # A loader's futures; a task the driver or pool left in a cycle of its own is not ours.
        if isinstance(item, Base | DataLoader | Node) or type(item) is asyncio.Future
    ]
    assert held == []
