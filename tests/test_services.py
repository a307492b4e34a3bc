"""Services: listing them across accounts (filters, keyset pages, batching) and cancellation requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from models.accounts import ClientAccount
from models.database import Database
from models.hosting import Service, ServiceStatus
from models.permissions import Permission
from models.users import User
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_service, create_user, session_for
from tests.graphql import Api

# As partner integrations send it: contract/operations/partner_services.graphql.
PARTNER_SERVICES = """
# Partner integration: all active services across accounts, with their account.
query PartnerServices($first: Int = 100, $after: String, $filter: ServiceFilter) {
  viewer {
    services(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          label
          status
          nextDueDate
          specifications { key value }
          product { id name type }
          account { id name owner { name } }
        }
      }
    }
  }
}
"""
VIEWER_SERVICES = """
query($first: Int, $after: String, $filter: ServiceFilter) {
  viewer {
    services(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id } }
    }
  }
}
"""
ACCOUNT_SERVICES = """
query($id: ID!, $filter: ServiceFilter) {
  account(id: $id) {
    services(first: 20, filter: $filter) {
      totalCount
      edges { node { id label status billingCycle recurringAmount { amount currencyCode } product { type } } }
    }
  }
}
"""
CANCEL = """
mutation Cancel($input: RequestServiceCancellationInput!) {
  requestServiceCancellation(input: $input) {
    service { id status cancellationRequest { type reason requestedBy { email } requestedAt } }
    userErrors { field code }
  }
}
"""
SERVICE_NODE = """
query($id: ID!) {
  node(id: $id) { ... on Service { cancellationRequest { type reason requestedBy { email } } } }
}
"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { code } } }
"""


def _gid(row: Service | ClientAccount) -> str:
    return encode_id(type(row).__name__, row.id)


async def _client(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


async def _ids(client: Api, filter_: dict[str, Any] | None = None) -> list[str]:
    response = await client(VIEWER_SERVICES, {"first": 100, "filter": filter_})
    assert response.errors == [], response.errors
    connection = response.data["viewer"]["services"]
    assert connection["totalCount"] == len(connection["edges"])
    return [edge["node"]["id"] for edge in connection["edges"]]


class Agency:
    """An agency user: owner of its own account, VIEW_SERVICES at one customer, only VIEW_INVOICES
    at another; a stranger's account besides. One service in each, one more (EMAIL) at home."""

    def __init__(self, user: User, accounts: dict[str, ClientAccount], services: dict[str, Service]) -> None:
        self.user = user
        self.accounts = accounts
        self.services = services


async def _agency(db: Database) -> Agency:
    user = await create_user(db, email="agency@example.com", name="Agency")
    own = await create_account(db, owner=user, name="Agency")
    viewable = await create_account(db, owner=await create_user(db), name="Customer")
    invoices_only = await create_account(db, owner=await create_user(db), name="Invoices only")
    foreign = await create_account(db, owner=await create_user(db), name="Stranger")
    await add_member(db, account=viewable, user=user, permissions=[Permission.VIEW_SERVICES])
    await add_member(db, account=invoices_only, user=user, permissions=[Permission.VIEW_INVOICES])
    services = {
        "own": await create_service(db, account=own, label="agency.at"),
        "own_mail": await create_service(db, account=own, product_key="business-mail"),
        "customer": await create_service(db, account=viewable, status=ServiceStatus.SUSPENDED),
        "invoices_only": await create_service(db, account=invoices_only),
        "foreign": await create_service(db, account=foreign),
    }
    accounts = {"own": own, "customer": viewable, "invoices_only": invoices_only, "foreign": foreign}
    return Agency(user, accounts, services)


async def test_viewer_services_span_the_accounts_where_the_viewer_may_view_services(
    api: Api, db: Database, settings: Settings
) -> None:
    agency = await _agency(db)
    client = await _client(api, db, settings, agency.user)

    listed = await _ids(client)

    assert listed == [_gid(agency.services[k]) for k in ("own", "own_mail", "customer")]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"accountIds": ["customer"]}, ["customer"]),
        ({"accountIds": ["own", "customer"]}, ["own", "own_mail", "customer"]),
        ({"accountIds": ["invoices_only", "foreign"]}, []),
        ({"accountIds": []}, []),
        ({"status": ["SUSPENDED"]}, ["customer"]),
        ({"status": ["ACTIVE", "SUSPENDED"]}, ["own", "own_mail", "customer"]),
        ({"type": "EMAIL"}, ["own_mail"]),
        ({"type": "HOSTING", "status": ["ACTIVE"]}, ["own"]),
        ({"type": "SERVER"}, []),
    ],
)
async def test_filters(
    api: Api, db: Database, settings: Settings, filter_: dict[str, Any], expected: list[str]
) -> None:
    agency = await _agency(db)
    client = await _client(api, db, settings, agency.user)
    if "accountIds" in filter_:
        filter_ = {**filter_, "accountIds": [_gid(agency.accounts[k]) for k in filter_["accountIds"]]}

    listed = await _ids(client, filter_)

    assert listed == [_gid(agency.services[k]) for k in expected]


async def test_account_ids_of_other_types_match_nothing_and_garbage_is_bad_input(
    api: Api, db: Database, settings: Settings
) -> None:
    agency = await _agency(db)
    client = await _client(api, db, settings, agency.user)

    other_type = await _ids(client, {"accountIds": [_gid(agency.services["own"])]})
    garbage = await client(VIEWER_SERVICES, {"filter": {"accountIds": ["not an id"]}})

    assert other_type == []
    assert garbage.codes == ["BAD_USER_INPUT"]
    assert garbage.data == {"viewer": None}


async def test_a_token_narrows_the_services_listed(api: Api, db: Database, settings: Settings) -> None:
    agency = await _agency(db)
    client = await _client(api, db, settings, agency.user)

    async def token(**input_: Any) -> Api:
        minted = await client(CREATE_TOKEN, {"input": {"name": "partner", **input_}})
        return api.with_token(minted.payload("createApiToken")["token"])

    for_customer = await token(accountIds=[_gid(agency.accounts["customer"])])
    invoices_only = await token(permissions=["VIEW_INVOICES"])
    everything = await token()

    assert await _ids(for_customer) == [_gid(agency.services["customer"])]
    assert await _ids(invoices_only) == []
    assert await _ids(everything) == await _ids(client)


async def test_account_services_need_view_services(api: Api, db: Database, settings: Settings) -> None:
    agency = await _agency(db)
    client = await _client(api, db, settings, agency.user)

    allowed = await client(
        ACCOUNT_SERVICES, {"id": _gid(agency.accounts["own"]), "filter": {"type": "HOSTING"}}
    )
    refused = await client(ACCOUNT_SERVICES, {"id": _gid(agency.accounts["invoices_only"])})
    foreign = await client(ACCOUNT_SERVICES, {"id": _gid(agency.accounts["foreign"])})

    assert allowed.errors == []
    assert allowed.data["account"]["services"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "id": _gid(agency.services["own"]),
                    "label": "agency.at",
                    "status": "ACTIVE",
                    "billingCycle": "MONTHLY",
                    "recurringAmount": {"amount": "4.90", "currencyCode": "EUR"},
                    "product": {"type": "HOSTING"},
                }
            }
        ],
    }
    assert refused.data == {"account": {"services": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in refused.errors] == [
        (["account", "services"], "FORBIDDEN")
    ]
    assert refused.errors[0]["extensions"]["requiredPermissions"] == ["VIEW_SERVICES"]
    assert foreign.data == {"account": None}


async def test_pages_neither_skip_nor_repeat_while_services_are_added(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    first_ones = [await create_service(db, account=account) for _ in range(5)]
    client = await _client(api, db, settings, owner)

    seen: list[str] = []
    added: list[Service] = []
    after = None
    while True:
        response = await client(VIEWER_SERVICES, {"first": 2, "after": after})
        connection = response.data["viewer"]["services"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        if len(added) < 2:
            # Someone orders while the integration pages through the list.
            added.append(await create_service(db, account=account))

    assert seen == [_gid(s) for s in first_ones + added]
    assert len(set(seen)) == len(seen)


async def test_partner_services_as_sent(api: Api, db: Database, settings: Settings) -> None:
    agency = await _agency(db)
    client = await _client(api, db, settings, agency.user)

    response = await client(PARTNER_SERVICES, {"filter": {"status": ["ACTIVE"], "type": "HOSTING"}})

    assert response.errors == []
    connection = response.data["viewer"]["services"]
    assert connection["totalCount"] == 1
    assert connection["pageInfo"]["hasNextPage"] is False
    node = connection["edges"][0]["node"]
    assert node["id"] == _gid(agency.services["own"])
    assert node["label"] == "agency.at"
    assert node["status"] == "ACTIVE"
    assert node["nextDueDate"] is None
    assert node["specifications"] == [{"key": "disk", "value": "10"}, {"key": "mailboxes", "value": "10"}]
    assert node["product"]["name"] == "Webhosting S"
    assert node["product"]["type"] == "HOSTING"
    assert node["account"] == {
        "id": _gid(agency.accounts["own"]),
        "name": "Agency",
        "owner": {"name": "Agency"},
    }


# Session lookup, page of services with their products (holding all of them, it is their count),
# accounts with their owners.
PARTNER_SERVICES_STATEMENTS = 3


@pytest.mark.parametrize("accounts", [1, 10, 50])
async def test_partner_services_cost_the_same_for_1_10_and_50_accounts(
    api: Api, db: Database, settings: Settings, accounts: int
) -> None:
    agency = await create_user(db)
    for index in range(accounts):
        owner = agency if index % 2 == 0 else await create_user(db, name=f"Customer {index}")
        account = await create_account(db, owner=owner)
        if owner is not agency:
            await add_member(db, account=account, user=agency, permissions=[Permission.VIEW_SERVICES])
        await create_service(db, account=account, product_key="webhosting-s" if index % 3 else "webhosting-m")
        await create_service(db, account=account, product_key="business-mail", label=f"mail{index}.at")
    client = await _client(api, db, settings, agency)

    response, statements = await client.count(PARTNER_SERVICES)

    assert response.errors == []
    connection = response.data["viewer"]["services"]
    assert connection["totalCount"] == 2 * accounts
    assert all(e["node"]["account"]["owner"]["name"] for e in connection["edges"])
    assert statements == PARTNER_SERVICES_STATEMENTS, client.db.counter.statements


async def test_cancellation_request_is_recorded_and_shown_on_the_service(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    service = await create_service(db, account=account, next_due_date=date(2031, 1, 1))
    member = await create_user(db, email="orders@example.com")
    await add_member(
        db, account=account, user=member, permissions=[Permission.PLACE_ORDERS, Permission.VIEW_SERVICES]
    )
    client = await _client(api, db, settings, member)
    reason = "  Moving to a server of our own.\nThanks for the years!  "

    response = await client(
        CANCEL, {"input": {"serviceId": _gid(service), "type": "END_OF_BILLING_PERIOD", "reason": reason}}
    )

    payload = response.payload("requestServiceCancellation")
    assert payload["userErrors"] == []
    request = payload["service"]["cancellationRequest"]
    assert request["type"] == "END_OF_BILLING_PERIOD"
    assert request["reason"] == reason.strip()
    assert request["requestedBy"] == {"email": "orders@example.com"}
    assert datetime.fromisoformat(request["requestedAt"]).tzinfo is not None
    # Carried out later by the provider: until then the service runs on.
    assert payload["service"]["status"] == "ACTIVE"
    seen_by_owner = await (await _client(api, db, settings, owner))(SERVICE_NODE, {"id": _gid(service)})
    assert seen_by_owner.data["node"]["cancellationRequest"] == {
        "type": "END_OF_BILLING_PERIOD",
        "reason": reason.strip(),
        "requestedBy": {"email": "orders@example.com"},
    }


async def test_a_second_request_is_refused(api: Api, db: Database, settings: Settings) -> None:
    owner = await create_user(db)
    service = await create_service(
        db, account=await create_account(db, owner=owner), status=ServiceStatus.SUSPENDED
    )
    client = await _client(api, db, settings, owner)
    variables = {"input": {"serviceId": _gid(service), "type": "IMMEDIATE", "reason": "Too slow."}}

    first = await client(CANCEL, variables)
    second = await client(CANCEL, {"input": {**variables["input"], "reason": "Changed my mind."}})

    assert first.payload("requestServiceCancellation")["userErrors"] == []
    assert second.payload("requestServiceCancellation")["userErrors"] == [
        {"field": ["input", "serviceId"], "code": "INVALID"}
    ]
    shown = await client(SERVICE_NODE, {"id": _gid(service)})
    assert shown.data["node"]["cancellationRequest"]["reason"] == "Too slow."


@pytest.mark.parametrize(
    ("status", "reason", "field"),
    [
        (ServiceStatus.ACTIVE, "   ", ["input", "reason"]),
        (ServiceStatus.ACTIVE, "x" * 1001, ["input", "reason"]),
        (ServiceStatus.ACTIVE, "bell \a", ["input", "reason"]),
        (ServiceStatus.TERMINATED, "Gone already.", ["input", "serviceId"]),
        (ServiceStatus.CANCELLED, "Gone already.", ["input", "serviceId"]),
    ],
)
async def test_invalid_cancellation_requests_change_nothing(
    api: Api, db: Database, settings: Settings, status: ServiceStatus, reason: str, field: list[str]
) -> None:
    owner = await create_user(db)
    service = await create_service(db, account=await create_account(db, owner=owner), status=status)
    client = await _client(api, db, settings, owner)

    response = await client(
        CANCEL, {"input": {"serviceId": _gid(service), "type": "IMMEDIATE", "reason": reason}}
    )

    assert response.payload("requestServiceCancellation") == {
        "service": None,
        "userErrors": [{"field": field, "code": "INVALID"}],
    }
    shown = await client(SERVICE_NODE, {"id": _gid(service)})
    assert shown.data["node"]["cancellationRequest"] is None


@pytest.mark.parametrize(
    ("actor", "code"),
    [("view_only", "FORBIDDEN"), ("stranger", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")],
)
async def test_cancelling_needs_place_orders(
    api: Api, db: Database, settings: Settings, actor: str, code: str
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    service = await create_service(db, account=account)
    client = api.new()
    if actor == "view_only":
        member = await create_user(db)
        await add_member(db, account=account, user=member, permissions=[Permission.VIEW_SERVICES])
        client = await _client(api, db, settings, member)
    elif actor == "stranger":
        client = await _client(api, db, settings, await create_user(db))

    response = await client(
        CANCEL, {"input": {"serviceId": _gid(service), "type": "IMMEDIATE", "reason": "No longer needed."}}
    )

    if code == "UNAUTHENTICATED":
        assert response.codes == [code]
    else:
        assert [e["code"] for e in response.payload("requestServiceCancellation")["userErrors"]] == [code]
    shown = await (await _client(api, db, settings, owner))(SERVICE_NODE, {"id": _gid(service)})
    assert shown.data["node"]["cancellationRequest"] is None
