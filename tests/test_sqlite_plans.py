"""On SQLite, every statement of the four dashboard and partner reads finds its rows through an
index: none reads a whole table. (PostgreSQL's plans: tests/test_query_plans.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from benchmarks.read_paths import operations, populate
from models.database import Database
from resolvers.core.settings import Settings
from tests.graphql import Api

pytestmark = pytest.mark.usefixtures("sqlite_only")


def whole_table_reads(plan: list[str]) -> list[str]:
    """The steps of an EXPLAIN QUERY PLAN that read a table from end to end (`SCAN t`, where an
    index walk reads `SCAN t USING INDEX …`). A page cut already (`SCAN page`: the subquery of
    `paginate`'s `around`, its rows joined to the page's) holds a page of rows, not a table."""
    return [
        step for step in plan if step.startswith("SCAN ") and " USING " not in step and step != "SCAN page"
    ]


def test_whole_table_reads_are_the_scans_without_an_index() -> None:
    plan = [
        "SCAN client_accounts",
        "SCAN client_accounts_1 USING INDEX ix_client_accounts_requiring_two_factor",
        "SEARCH client_accounts USING INDEX sqlite_autoindex_client_accounts_1 (id=?)",
        "SCAN memberships USING COVERING INDEX ix_memberships_account_id",
        "SCAN page",
    ]
    assert whole_table_reads(plan) == ["SCAN client_accounts"]


async def test_the_four_reads_read_no_whole_table(api: Api, db: Database, settings: Settings) -> None:
    # Given an agency with 30 customer accounts
    world = await populate(db, settings, 30, 2)
    api.set_session(world.cookie)
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    # When the four reads run
    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        for name, body in operations(world).items():
            answer = await api(body["query"], body["variables"])
            assert answer.errors == [], name
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    # Then no statement they sent reads a whole table (a loader's `id IN (...)` among them: written
    # as `(id IN (...)) = 1` it scanned every account for the page's fifty)
    assert len(sent) >= 14
    scans: dict[str, list[str]] = {}
    async with db.engine.connect() as connection:
        for statement, parameters in sent:
            result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            steps = whole_table_reads([row[-1] for row in result])
            if steps:
                scans[statement] = steps
    assert scans == {}
