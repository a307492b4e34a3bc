"""Every read the consumers send costs a fixed number of SQL statements, whatever it returns.

The documents are the contract's (tests/contract/operations), as the dashboard and partners send them;
each runs against 1, 10 and 100 accounts and must cost exactly the same.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from clientarea.catalogue import sync_catalogue
from models.base import columns_of
from models.billing import Invoice, Order
from models.contacts import Contact
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.pagination import _page_statement, _selects_columns
from resolvers.core.settings import Settings
from tests.contract_check import CONTRACT_OPERATIONS as OPERATIONS
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_invoice,
    create_service,
    create_user,
    session_for,
)
from tests.graphql import Api


def operation(file: str, name: str) -> str:
    """One named operation of a contract file (with the fragments a document may define)."""
    text = (OPERATIONS / file).read_text()
    blocks = re.split(r"\n(?=(?:query|mutation) )", "\n" + text)
    for block in blocks:
        if re.match(rf"(query|mutation) {name}\b", block.strip()):
            return block.strip()
    raise KeyError(name)


# The statements each costs; the same for 1, 10 and 100 accounts.
READS: dict[str, tuple[str, str, int]] = {
    # The viewer's user comes with the session lookup: no statement of its own. A page of
    # services brings each one's product in its rows, a page of domains the contacts it shows, and
    # accounts come with the owners shown.
    "DashboardAccounts": ("dashboard_accounts.graphql", "DashboardAccounts", 3),
    "PartnerServices": ("partner_services.graphql", "PartnerServices", 3),
    "ExpiringDomains": ("partner_expiring_domains.graphql", "ExpiringDomains", 3),
    "AccountOverview": ("account_overview.graphql", "AccountOverview", 5),
    "AccountMembers": ("account_members.graphql", "AccountMembers", 5),
    "Catalogue": ("orders.graphql", "Catalogue", 6),
}


async def _agency(db: Database, settings: Settings, accounts: int) -> tuple[str, Any]:
    """An agency user with `accounts` customer accounts, each with a service, a domain, an invoice,
    a member and a pending invitation; returns the agency's cookie and its first account."""
    await sync_catalogue(db)
    agency = await create_user(db, email="agency@example.com", name="Agency")
    first = None
    every = list(Permission)
    for index in range(accounts):
        owner = await create_user(db, name=f"Owner {index}")
        account = await create_account(db, owner=owner, name=f"Customer {index:03}")
        await add_member(db, account=account, user=agency, permissions=every, invited_by=owner)
        await create_service(db, account=account, label=f"www.c{index}.at")
        await create_domain(db, account=account, name=f"c{index}.at")
        await create_invoice(db, account=account, placed_by=agency)
        first = first or account
    return await session_for(db, settings, agency), first


@pytest.mark.parametrize("accounts", [1, 10, 100])
@pytest.mark.parametrize("name", sorted(READS))
async def test_reads_cost_the_same_for_any_number_of_accounts(
    api: Api, db: Database, settings: Settings, accounts: int, name: str
) -> None:
    file, operation_name, expected = READS[name]
    cookie, first = await _agency(db, settings, accounts)
    api.set_session(cookie)
    variables: dict[str, Any] = {
        "id": encode_id("ClientAccount", first.id),
        "before": "2100-01-01",
        "first": 100,
    }

    response, statements = await api.count(operation(file, operation_name), variables)

    assert response.errors == [], response.errors
    assert statements == expected, (statements, db.counter.statements)


@pytest.mark.parametrize(
    "name", ["DashboardAccounts", "PartnerServices", "ExpiringDomains", "AccountOverview"]
)
async def test_a_viewers_second_read_builds_no_page_statement(
    api: Api, db: Database, settings: Settings, name: str
) -> None:
    """A page's statement is built (and given its SQLAlchemy cache key) once per viewer and
    filter shape; the next request with other values reuses it."""
    file, operation_name, _ = READS[name]
    cookie, first = await _agency(db, settings, 3)
    api.set_session(cookie)
    variables: dict[str, Any] = {"id": encode_id("ClientAccount", first.id), "before": "2100-01-01"}
    document = operation(file, operation_name)
    first_answer, _ = await api.count(document, {**variables, "first": 2})
    built = _page_statement.cache_info().misses

    second_answer, _ = await api.count(document, {**variables, "first": 1, "before": "2099-01-01"})

    assert first_answer.errors == second_answer.errors == []
    assert _page_statement.cache_info().misses == built


def test_only_pages_of_columns_are_read_past_the_orm() -> None:
    # Columns, even with conditions on the mapped class: plain rows either way
    assert _selects_columns(select(*columns_of(Invoice)).where(Invoice.account_id == bindparam("a")))
    assert _selects_columns(select(Invoice.id, Contact.first_name))
    # An entity, or an aliased one, needs the session to become an instance
    assert not _selects_columns(select(Order))
    assert not _selects_columns(select(Invoice.id, aliased(Contact)))
