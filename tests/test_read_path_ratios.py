"""The four contract reads stay within a fixed factor of the GraphQL floor, in-process.

The floor is benchmarks/read_paths.py's: graphql-core executing the same document against our SDL
from the finished response, measured in the same rounds, so load from elsewhere on the machine lands
on both. The figure is a median over many rounds, taken in a few batches, and the lowest batch
counts: a burst of load elsewhere lifts one batch, while a regression that adds work per node or
per field (an await per gated field, a per-row query, a slower encoder) lifts every batch.
"""

from __future__ import annotations

from benchmarks.read_paths import (
    ASGIClient,
    collector_as_served,
    floor_schema,
    measure,
    operations,
    populate,
)
from clientarea.app import create_app
from models.database import Database
from resolvers.core.settings import Settings

ACCOUNTS = 50
BATCHES = 3
ROUNDS = 20
# Our median time over the floor's, per operation. The aim is 1.6 in-process (1.25 over HTTP,
# `scripts/bench`), which DashboardAccounts and PartnerServices hold; the other two keep the margin
# a loaded two-core machine needs over what they measure (the app called as ASGI directly, without
# an HTTP client; on SQLite and PostgreSQL, alone and after four thousand other tests in the same
# process: 0.92-1.01, 1.09-1.18, 1.25-1.38 and 1.65-2.03). Lower them as the read paths get closer.
LIMITS = {
    "DashboardAccounts": 1.6,
    "PartnerServices": 1.6,
    "ExpiringDomains": 2.0,
    "AccountOverview": 2.8,
}


async def test_reads_stay_near_the_graphql_floor(db: Database, settings: Settings) -> None:
    # Given an agency with 50 customer accounts, each with services and domains
    world = await populate(db, settings, ACCOUNTS, 2)
    bodies = operations(world)
    schema = floor_schema()
    client = ASGIClient(create_app(settings, db), base_url="https://testserver")
    ratios: dict[str, float] = {}
    async with collector_as_served():
        client.cookies.set(settings.cookie_name, world.cookie)
        # When each operation runs many rounds in a few batches, alternating with its floor
        for name, body in bodies.items():
            batches = []
            for _ in range(BATCHES):
                spent, floor_ms, _, _ = await measure(client, schema, body, ROUNDS, round_trip=False)
                batches.append(spent / floor_ms)
            ratios[name] = min(batches)
    # Then each stays within its limit
    over = {name: round(ratio, 2) for name, ratio in ratios.items() if ratio > LIMITS[name]}
    assert not over, f"over the limit {LIMITS}: {over} (all: {ratios})"
