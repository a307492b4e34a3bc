"""The four contract reads stay within a fixed factor of the GraphQL floor, in-process.

The floor is benchmarks/read_paths.py's: graphql-core executing the same document against our SDL
from the finished response, measured in the same rounds, so load from elsewhere on the machine lands
on both. The figure is a median over many rounds, taken in batches, and each side's lowest batch
counts: a burst of load elsewhere lifts one batch, while a regression that adds work per node or
per field (an await per gated field, a per-row query, a slower encoder) lifts every batch. An
operation over its limit is measured afresh, up to ATTEMPTS times in all, and its best attempt
counts: a burst of load elsewhere lifts one attempt, a regression lifts them all.

Both sides run at their fastest stack depth, not wherever the test runner's stack leaves them.
CPython 3.11 keeps frames in chunks of memory and allocates one afresh whenever a call crosses a
chunk's end, and frees it on return: a loop that calls across that boundary pays a system call per
call. Where it falls depends on how deep the caller already is, so at some depths graphql-core's
recursive completion ran up to five times slower (the PartnerServices floor 12 ms at 3 of 40
depths, up to 62 ms at the others), and a floor measured at the test's depth let a slower read
through. `measure` runs the floor at its fastest depth; our side runs in a thread of its own at a
few depths, and the fastest counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from benchmarks.read_paths import (
    ASGIClient,
    World,
    collector_as_served,
    deeper,
    floor_schema,
    measure,
    operations,
    populate,
)
from clientarea.app import create_app
from models.database import Database
from resolvers.core.settings import Settings

ACCOUNTS = 50
# Extra frames below each run, unevenly apart, so that our side meets no chunk's end at some of
# them (`measure` finds the floor's fastest depth itself).
DEPTHS = (0, 3, 7, 12)
BATCHES = 1
ROUNDS = 20
ATTEMPTS = 5
# Our median time over the floor's, per operation, our side at its fastest depth: 1.6 for all four
# in-process (1.25 is the aim over HTTP, `scripts/bench`). Measured by this test's own rounds (one
# attempt each), alone, on this two-core machine, seven to nine times on each of SQLite and
# PostgreSQL over an hour whose load varied: DashboardAccounts 1.00-1.27, PartnerServices
# 0.93-1.14, ExpiringDomains 1.08-1.35, AccountOverview 1.25-1.56 (five statements against a floor
# of about 4.4 ms: a millisecond of the machine's noise moves it by a quarter). A regression that
# adds work per node, per field or per statement lifts every attempt; a burst of load elsewhere
# lifts one, hence ATTEMPTS.
LIMITS = {
    "DashboardAccounts": 1.6,
    "PartnerServices": 1.6,
    "ExpiringDomains": 1.6,
    "AccountOverview": 1.6,
}


async def _batches(
    settings: Settings, world: World, names: frozenset[str]
) -> dict[str, list[tuple[float, float]]]:
    """(our median, the floor's median) of each batch of each of the operations `names`, in ms."""
    db = Database(settings.database_url)
    client = ASGIClient(create_app(settings, db), base_url="https://testserver")
    client.cookies.set(settings.cookie_name, world.cookie)
    schema = floor_schema()
    measured: dict[str, list[tuple[float, float]]] = {}
    try:
        async with collector_as_served():
            for name, body in operations(world).items():
                if name not in names:
                    continue
                for _ in range(BATCHES):
                    spent, floor_ms, _, _ = await measure(client, schema, body, ROUNDS, round_trip=False)
                    measured.setdefault(name, []).append((spent, floor_ms))
    finally:
        await db.dispose()
    return measured


def _at_every_depth(
    settings: Settings, world: World, names: frozenset[str]
) -> dict[str, list[tuple[float, float]]]:
    measured: dict[str, list[tuple[float, float]]] = {}
    for depth in DEPTHS:
        batches = deeper(depth, lambda: asyncio.run(_batches(settings, world, names)))
        for name, pairs in batches.items():
            measured.setdefault(name, []).extend(pairs)
    return measured


def ratios_of(measured: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    """Each operation's fastest batch over the floor's fastest."""
    return {
        name: min(spent for spent, _ in pairs) / min(floor for _, floor in pairs)
        for name, pairs in measured.items()
    }


def test_ratios_of_take_each_side_at_its_fastest() -> None:
    measured = {"Op": [(10.0, 8.0), (14.0, 5.0), (12.0, 6.0)]}
    assert ratios_of(measured) == {"Op": 2.0}


def over_the_limit(ratios: dict[str, float]) -> frozenset[str]:
    return frozenset(name for name, ratio in ratios.items() if ratio > LIMITS[name])


def best_of_attempts(measure_some: Callable[[frozenset[str]], dict[str, float]]) -> dict[str, float]:
    """Each operation's lowest ratio, measuring again those over their limit, ATTEMPTS in all."""
    best = measure_some(frozenset(LIMITS))
    for _ in range(ATTEMPTS - 1):
        again = over_the_limit(best)
        if not again:
            break
        for name, ratio in measure_some(again).items():
            best[name] = min(best[name], ratio)
    return best


def test_only_operations_over_their_limit_are_measured_again() -> None:
    asked: list[frozenset[str]] = []
    # Given PartnerServices that measures over its limit twice, then under it
    figures = iter([9.0, 9.0, 1.0])

    def measure_some(names: frozenset[str]) -> dict[str, float]:
        asked.append(names)
        return {name: next(figures) if name == "PartnerServices" else 1.0 for name in names}

    # When measured with attempts to spare
    best = best_of_attempts(measure_some)
    # Then only it was measured again, and its best attempt counts
    assert asked[1:] == [frozenset({"PartnerServices"})] * 2
    assert best["PartnerServices"] == 1.0
    # And a regression over the limit in every attempt stays over it
    figures = iter([9.0 - attempt for attempt in range(ATTEMPTS)])
    asked.clear()
    assert best_of_attempts(measure_some)["PartnerServices"] == 9.0 - (ATTEMPTS - 1)
    assert len(asked) == ATTEMPTS


@pytest.mark.timing
async def test_reads_stay_near_the_graphql_floor(db: Database, settings: Settings) -> None:
    # Given an agency with 50 customer accounts, each with services and domains
    world = await populate(db, settings, ACCOUNTS, 2)

    # When each operation runs many rounds in a few batches at a few depths of a fresh thread,
    # alternating with its floor
    # (those over their limit again, up to ATTEMPTS times)
    def measure_some(names: frozenset[str]) -> dict[str, float]:
        return ratios_of(_at_every_depth(settings, world, names))

    ratios = await asyncio.to_thread(best_of_attempts, measure_some)
    # Then each stays within its limit
    assert set(ratios) == set(LIMITS)
    over = {name: round(ratios[name], 2) for name in over_the_limit(ratios)}
    assert not over, f"over the limit {LIMITS}: {over} (all: {ratios})"
