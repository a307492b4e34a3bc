"""A list of services counts what it lists: over more than a page, narrowed or not by the product's
type (the count then needs the catalogue, which it otherwise leaves out)."""

from __future__ import annotations

import pytest

from models.database import Database
from models.permissions import Permission
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_service, create_user, session_for
from tests.graphql import Api

SERVICES = """
query ($first: Int!, $filter: ServiceFilter) {
  viewer { services(first: $first, filter: $filter) { totalCount edges { node { id } } } }
}
"""


@pytest.mark.parametrize("type_", [None, "EMAIL", "HOSTING"])
async def test_the_count_over_more_than_a_page_counts_what_the_filter_lets_through(
    api: Api, db: Database, settings: Settings, type_: str | None
) -> None:
    # Given an agency with hosting and mail services in accounts it owns and in customers'
    agency = await create_user(db)
    for index in range(4):
        owner = agency if index % 2 else await create_user(db)
        account = await create_account(db, owner=owner)
        if owner is not agency:
            await add_member(db, account=account, user=agency, permissions=[Permission.VIEW_SERVICES])
        await create_service(db, account=account, product_key="webhosting-s")
        await create_service(db, account=account, product_key="business-mail")
        await create_service(db, account=account, product_key="business-mail")
    # And services of an account it has nothing to do with
    stranger = await create_account(db, owner=await create_user(db))
    await create_service(db, account=stranger, product_key="business-mail")
    api.set_session(await session_for(db, settings, agency))

    # When it reads a page smaller than the list
    filter_ = None if type_ is None else {"type": type_}
    response, _ = await api.count(SERVICES, {"first": 2, "filter": filter_})

    # Then the count is of all it may see that the filter lets through, beyond the page
    assert response.errors == []
    connection = response.data["viewer"]["services"]
    expected = {None: 12, "EMAIL": 8, "HOSTING": 4}[type_]
    assert connection["totalCount"] == expected
    assert len(connection["edges"]) == 2
    # And it joined the catalogue only where the type narrowed the list
    counts = [s for s in api.db.counter.statements if s.lstrip().upper().startswith("SELECT COUNT")]
    assert len(counts) == 1
    assert ("products" in counts[0]) is (type_ is not None)
