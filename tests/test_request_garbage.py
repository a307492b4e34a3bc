"""A request's rows, loader futures and nodes, and the request itself (its context, loaders and
executor), are freed by reference counting when its answer is built, not by the collector's later
passes (resolvers/core/context.py `Context.close`, schema/executor.py `_helpers_of`): under load,
what a request left in reference cycles piled up until the collector walked it in one pause of
tens of milliseconds in the middle of sixteen requests."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from aiodataloader import DataLoader
from starlette.requests import Request

from benchmarks.read_paths import ASGIClient, operations, populate
from clientarea.app import create_app
from models.base import Base
from models.database import Database
from resolvers.core.context import Context
from resolvers.core.settings import Settings
from resolvers.loaders import Loaders
from schema.core.base import Node
from schema.executor import PlainFieldsExecutor

ROUNDS = 3
# What a request makes for itself; none of it may be left for the collector.
REQUEST_SCOPED = (Base, DataLoader, Node, Context, Loaders, PlainFieldsExecutor, Request)


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

    # Then nothing of the request is left for the collector: no row, loader, loader future or
    # node, and not the context, loaders, executor or request that held them
    assert request_scoped(garbage_kept) == []


def request_scoped(garbage: list[object]) -> list[str]:
    return [
        type(item).__name__
        for item in garbage
        # A loader's futures; a task the driver or pool left in a cycle of its own is not ours.
        if isinstance(item, REQUEST_SCOPED) or type(item) is asyncio.Future
    ]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"query": "{ viewer { nope } }"}, id="does not validate"),
        pytest.param({"query": "{ viewer { "}, id="does not parse"),
        pytest.param(
            {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": 7}}, id="bad variable"
        ),
        pytest.param({"query": '{ node(id: "QWNjb3VudDox") { id } }'}, id="foreign ID"),
        pytest.param(
            {
                "query": 'mutation { signIn(input: {email: "agency@example.com", password: "wrong"})'
                " { userErrors { message } } }"
            },
            id="a wrong password",
        ),
        pytest.param({"query": "mutation { signOut { ok } }"}, id="sign-out"),
    ],
)
async def test_a_refused_or_failing_request_leaves_nothing_for_the_collector(
    db: Database, settings: Settings, body: dict[str, object], garbage_kept: list[object]
) -> None:
    # Given a signed-in agency and a warmed-up app
    world = await populate(db, settings, 2, 1)
    client = ASGIClient(create_app(settings, db), base_url="https://testserver")
    client.cookies.set(settings.cookie_name, world.cookie)
    for _ in range(ROUNDS):
        await client.post("/graphql", json=body)
    gc.collect()
    garbage_kept.clear()

    # When the request is refused, fails or changes something
    for _ in range(ROUNDS):
        response = await client.post("/graphql", json=body)
        assert response.status_code in (200, 400)
    gc.collect()

    # Then nothing of it is left for the collector either
    assert request_scoped(garbage_kept) == []


@strawberry.type
class Gathering:
    @strawberry.field
    async def total(self, info: strawberry.Info) -> int:
        async def value(number: int) -> int:
            await asyncio.sleep(0)
            return number

        helpers = info._raw_info.async_helpers
        helpers.track([value(3)])
        return sum(await helpers.gather([value(1), value(2)]))


async def test_resolve_infos_helpers_work_and_leave_the_executor_to_reference_counting(
    monkeypatch: pytest.MonkeyPatch, garbage_kept: list[object]
) -> None:
    # Given a schema on our executor, whose executors are watched
    made: list[weakref.ref[PlainFieldsExecutor]] = []
    start = PlainFieldsExecutor.__init__

    def watched(self: PlainFieldsExecutor, *args: Any, **kwargs: Any) -> None:
        start(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(PlainFieldsExecutor, "__init__", watched)
    schema = strawberry.Schema(query=Gathering, execution_context_class=PlainFieldsExecutor)

    # When a resolver gathers and tracks work through resolve info's helpers
    result = await schema.execute("{ total }")

    # Then the helpers did their work, and the executor went with its answer, not to the collector
    assert result.errors is None
    assert result.data == {"total": 3}
    del result
    await asyncio.sleep(0)
    assert [ref() for ref in made] == [None]
    assert request_scoped(garbage_kept) == []
