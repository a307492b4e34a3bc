"""Batching: the SQL statements of a request depend on the query's shape, not on how many rows it returns."""

from __future__ import annotations

import pytest

from models.database import Database
from models.permissions import Permission
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_user, session_for
from tests.graphql import Api

DASHBOARD_ACCOUNTS = """
query DashboardAccounts($first: Int = 100, $after: String) {
  viewer {
    user { id name email }
    accounts(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        role
        permissions
        node { id name status viewerRole viewerPermissions owner { id name } billingProfile { email } }
      }
    }
  }
}
"""


async def _agency_with(db: Database, settings: Settings, accounts: int) -> str:
    agency = await create_user(db, email="agency@example.com")
    for index in range(accounts):
        owner = agency if index % 2 == 0 else await create_user(db)
        account = await create_account(db, owner=owner, name=f"Customer {index:03}")
        if owner is not agency:
            await add_member(db, account=account, user=agency, permissions=[Permission.VIEW_INVOICES])
    return await session_for(db, settings, agency)


@pytest.mark.parametrize("accounts", [1, 10, 100])
async def test_account_switcher_costs_the_same_for_1_10_and_100_accounts(
    api: Api, db: Database, settings: Settings, accounts: int
) -> None:
    api.set_session(await _agency_with(db, settings, accounts))

    response, statements = await api.count(DASHBOARD_ACCOUNTS)

    assert response.errors == []
    connection = response.data["viewer"]["accounts"]
    assert connection["totalCount"] == accounts
    assert len(connection["edges"]) == accounts
    assert all(e["node"]["owner"]["name"] for e in connection["edges"])
    # session lookup (with the viewer's user), page of accounts with memberships (all of them:
    # their count), owners
    assert statements == 3, db.counter.statements


COUNTED = """
query Counted($first: Int, $after: String) {
  viewer {
    accounts(first: $first, after: $after) { totalCount pageInfo { endCursor } edges { node { id } } }
  }
}
"""


async def test_total_count_costs_a_statement_only_beyond_one_page(
    api: Api, db: Database, settings: Settings
) -> None:
    api.set_session(await _agency_with(db, settings, 12))

    whole, whole_statements = await api.count(COUNTED, {"first": 20})
    first, first_statements = await api.count(COUNTED, {"first": 5})
    cursor = first.data["viewer"]["accounts"]["pageInfo"]["endCursor"]
    later, later_statements = await api.count(COUNTED, {"first": 20, "after": cursor})

    assert [r.data["viewer"]["accounts"]["totalCount"] for r in (whole, first, later)] == [12, 12, 12]
    assert len(later.data["viewer"]["accounts"]["edges"]) == 7
    # A first page holding every account is its own count; past one page, or after a cursor, the
    # count is one statement more.
    assert first_statements == whole_statements + 1
    assert later_statements == whole_statements + 1
