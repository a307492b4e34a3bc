"""Batching: the SQL statements of a request depend on the query's shape, not on how many rows it returns."""

from __future__ import annotations

import pytest

from clientarea.catalogue import sync_catalogue
from models.database import Database
from models.permissions import Permission
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_service, create_user, session_for
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
    # session lookup (with the viewer's user), page of accounts with memberships and owners (all
    # of them: their count)
    assert statements == 2, db.counter.statements


async def test_each_account_and_service_shows_its_own_owner(
    api: Api, db: Database, settings: Settings
) -> None:
    # Given an agency in three accounts of three owners, each account with a service
    await sync_catalogue(db)
    agency = await create_user(db, email="agency@example.com")
    owners = {}
    for index in range(3):
        owner = await create_user(db, name=f"Owner {index}")
        account = await create_account(db, owner=owner, name=f"Customer {index}")
        await add_member(db, account=account, user=agency, permissions=[Permission.VIEW_SERVICES])
        await create_service(db, account=account)
        owners[f"Customer {index}"] = f"Owner {index}"
    api.set_session(await session_for(db, settings, agency))

    # When the agency lists its accounts, and (another request) its services with their accounts
    accounts = await api("{ viewer { accounts(first: 10) { edges { node { name owner { name } } } } } }")
    services = await api(
        "{ viewer { services(first: 10) { edges { node { account { name owner { name } } } } } } }"
    )

    # Then every account, read in the page or ahead of the services, comes with its own owner
    assert accounts.errors == services.errors == []
    shown = [edge["node"] for edge in accounts.data["viewer"]["accounts"]["edges"]]
    shown += [edge["node"]["account"] for edge in services.data["viewer"]["services"]["edges"]]
    assert len(shown) == 6
    assert all(node["owner"]["name"] == owners[node["name"]] for node in shown), shown


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
