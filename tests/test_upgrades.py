"""Changing a service's specifications: who may, what is valid, and the prorated order that bills it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from models.accounts import AccountStatus, ClientAccount
from models.base import utcnow
from models.billing import Order
from models.catalogue import BillingCycle
from models.database import Database
from models.hosting import Service, ServiceStatus
from models.permissions import Permission
from models.users import User
from resolvers.billing.issuing import period_end
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.principal import Principal
from resolvers.core.settings import Settings
from resolvers.hosting.upgrades import change_service_specifications, prorate
from resolvers.loaders import Loaders
from schema.hosting.services import SpecificationInput
from tests.factories import add_member, create_account, create_service, create_user, session_for
from tests.graphql import Api

CENT = Decimal("0.01")
CHANGE = """
mutation Change($input: ChangeServiceSpecificationsInput!) {
  changeServiceSpecifications(input: $input) {
    service { id recurringAmount { amount currencyCode } specifications { key value } }
    order {
      id
      total { amount currencyCode }
      items { amount { amount } specifications { key value } service { id } }
      invoice {
        lines { description amount { amount } }
        subtotal { amount }
        taxes { name rate amount { amount } }
        total { amount }
      }
    }
    userErrors { field message code }
  }
}
"""
CHANGE_BRIEFLY = """
mutation Change($input: ChangeServiceSpecificationsInput!) {
  changeServiceSpecifications(input: $input) { service { id } order { id } userErrors { field code } }
}
"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { code } } }
"""


async def _client(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


def _change(service: Service, specifications: list[dict[str, str]]) -> dict[str, Any]:
    return {"input": {"serviceId": encode_id("Service", service.id), "specifications": specifications}}


def _share(difference: Decimal, *, due: date, today: date, months: int = 1) -> Decimal:
    days_in_period = (due - period_end(due, -months)).days
    return (difference * (due - today).days / days_in_period).quantize(CENT, rounding=ROUND_HALF_UP)


def _vat(net: Decimal) -> Decimal:
    return (net * Decimal("0.20")).quantize(CENT, rounding=ROUND_HALF_UP)


async def _unchanged(db: Database, service: Service) -> bool:
    async with db.read() as session:
        stored = await session.get_one(Service, service.id)
        orders = await session.scalar(select(func.count()).select_from(Order))
    return (
        orders == 0
        and stored.recurring_amount == service.recurring_amount
        and stored.specifications == service.specifications
    )


@pytest.mark.parametrize(
    ("difference", "cycle", "due", "today", "expected"),
    [
        # 14 of February's 28 days left: half the monthly difference.
        (Decimal("2.00"), BillingCycle.MONTHLY, date(2026, 3, 1), date(2026, 2, 15), Decimal("1.00")),
        (Decimal("-2.00"), BillingCycle.MONTHLY, date(2026, 3, 1), date(2026, 2, 15), Decimal("-1.00")),
        # 3 of April's 30 days: 0.005 exactly, rounded half-up (away from zero) once.
        (Decimal("0.05"), BillingCycle.MONTHLY, date(2026, 5, 1), date(2026, 4, 28), Decimal("0.01")),
        (Decimal("-0.05"), BillingCycle.MONTHLY, date(2026, 5, 1), date(2026, 4, 28), Decimal("-0.01")),
        # 183 of 365 days: 30 x 183 / 365 = 15.0410...
        (Decimal("30.00"), BillingCycle.ANNUALLY, date(2027, 1, 1), date(2026, 7, 2), Decimal("15.04")),
        # Not provisioned yet: the whole first period lies ahead.
        (Decimal("4.00"), BillingCycle.MONTHLY, None, date(2026, 1, 31), Decimal("4.00")),
        # Overdue: the next period is billed at the new price; nothing left of this one.
        (Decimal("4.00"), BillingCycle.MONTHLY, date(2026, 1, 10), date(2026, 1, 20), Decimal("0.00")),
        # The last day of the period still counts as one day left of 31.
        (Decimal("31.00"), BillingCycle.MONTHLY, date(2026, 2, 1), date(2026, 1, 31), Decimal("1.00")),
    ],
)
def test_proration_is_the_difference_times_the_days_left(
    difference: Decimal, cycle: BillingCycle, due: date | None, today: date, expected: Decimal
) -> None:
    assert prorate(difference, cycle=cycle, next_due_date=due, today=today).amount == expected


async def test_upgrade_bills_the_rest_of_the_period_with_austrian_vat(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner, country="AT")
    today = utcnow().date()
    due = today + timedelta(days=10)
    service = await create_service(db, account=account, next_due_date=due, label="muster.at")
    client = await _client(api, db, settings, owner)

    response = await client(CHANGE, _change(service, [{"key": "disk", "value": "100"}]))

    payload = response.payload("changeServiceSpecifications")
    assert payload["userErrors"] == []
    new_specifications = [{"key": "disk", "value": "100"}, {"key": "mailboxes", "value": "10"}]
    assert payload["service"]["recurringAmount"] == {"amount": "8.90", "currencyCode": "EUR"}
    assert payload["service"]["specifications"] == new_specifications
    share = _share(Decimal("4.00"), due=due, today=today)
    order = payload["order"]
    assert order["items"] == [
        {
            "amount": {"amount": str(share)},
            "specifications": new_specifications,
            "service": {"id": encode_id("Service", service.id)},
        }
    ]
    invoice = order["invoice"]
    assert invoice["subtotal"] == {"amount": str(share)}
    assert [(t["name"], Decimal(t["rate"]), t["amount"]["amount"]) for t in invoice["taxes"]] == [
        ("USt 20 %", Decimal(20), str(_vat(share)))
    ]
    assert invoice["total"] == {"amount": str(share + _vat(share))}
    assert order["total"] == {"amount": str(share + _vat(share)), "currencyCode": "EUR"}
    assert invoice["lines"][0]["description"].startswith(
        "Upgrade Webhosting S (muster.at): Disk space 10 GB → 100 GB, "
    )


async def test_downgrade_credits_the_rest_of_the_period_and_keeps_options_left_out(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner, country="AT")
    today = utcnow().date()
    due = today + timedelta(days=20)
    service = await create_service(
        db, account=account, specifications={"disk": "100", "mailboxes": "unlimited"}, next_due_date=due
    )
    client = await _client(api, db, settings, owner)

    response = await client(CHANGE, _change(service, [{"key": "mailboxes", "value": "10"}]))

    payload = response.payload("changeServiceSpecifications")
    assert payload["userErrors"] == []
    assert service.recurring_amount == Decimal("11.90")
    assert payload["service"]["recurringAmount"]["amount"] == "8.90"
    assert payload["service"]["specifications"] == [
        {"key": "disk", "value": "100"},
        {"key": "mailboxes", "value": "10"},
    ]
    credit = _share(Decimal("-3.00"), due=due, today=today)
    assert credit < 0
    invoice = payload["order"]["invoice"]
    assert invoice["lines"][0]["amount"] == {"amount": str(credit)}
    assert invoice["lines"][0]["description"].startswith("Downgrade Webhosting S: Mailboxes Unlimited")
    assert invoice["taxes"][0]["amount"] == {"amount": str(_vat(credit))}
    assert invoice["total"] == {"amount": str(credit + _vat(credit))}


async def test_fixed_dates_prorate_exactly_through_the_resolver(db: Database, settings: Settings) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner, country="AT")
    service = await create_service(
        db, account=account, billing_cycle=BillingCycle.ANNUALLY, next_due_date=date(2027, 1, 1)
    )
    context = Context(
        db=db,
        settings=settings,
        request=None,
        response=None,
        request_id="fixed-dates",
        principal=Principal(
            user_id=owner.id, email=owner.email, credential="session", credential_id=uuid.uuid4()
        ),
        make_loaders=Loaders,
    )

    changed, order = await change_service_specifications(
        context,
        service_id=service.id,
        specifications=[SpecificationInput(key="mailboxes", value="unlimited")],
        now=datetime(2026, 7, 2, 9, 30, tzinfo=UTC),
    )

    # 49.00 a year plus 30.00 for unlimited mailboxes; 183 of 365 days left: 15.04 net, 3.01 VAT.
    assert changed.recurring_amount == Decimal("79.00")
    assert order.total == Decimal("18.05")


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("owner", None),
        ("manager", None),
        ("services_only", "FORBIDDEN"),
        ("orders_only", "FORBIDDEN"),
        ("stranger", "NOT_FOUND"),
        ("token_without_place_orders", "FORBIDDEN"),
        ("token_for_another_account", "NOT_FOUND"),
    ],
)
async def test_changing_needs_manage_services_and_place_orders(
    api: Api, db: Database, settings: Settings, actor: str, code: str | None
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    service = await create_service(db, account=account, next_due_date=utcnow().date() + timedelta(days=5))
    grants = {
        "manager": [Permission.VIEW_SERVICES, Permission.MANAGE_SERVICES, Permission.PLACE_ORDERS],
        "services_only": [Permission.VIEW_SERVICES, Permission.MANAGE_SERVICES],
        "orders_only": [Permission.VIEW_SERVICES, Permission.PLACE_ORDERS],
    }
    owner_client = await _client(api, db, settings, owner)
    if actor == "owner":
        client = owner_client
    elif actor in grants:
        member = await create_user(db)
        await add_member(db, account=account, user=member, permissions=grants[actor])
        client = await _client(api, db, settings, member)
    elif actor == "stranger":
        client = await _client(api, db, settings, await create_user(db))
    else:
        token_input: dict[str, Any] = {"name": "partner"}
        if actor == "token_without_place_orders":
            token_input["permissions"] = ["VIEW_SERVICES", "MANAGE_SERVICES"]
        else:
            other = await create_account(db, owner=owner)
            token_input["accountIds"] = [encode_id("ClientAccount", other.id)]
        minted = await owner_client(CREATE_TOKEN, {"input": token_input})
        client = api.with_token(minted.payload("createApiToken")["token"])

    response = await client(CHANGE_BRIEFLY, _change(service, [{"key": "disk", "value": "50"}]))

    payload = response.payload("changeServiceSpecifications")
    if code is None:
        assert payload["userErrors"] == []
        assert payload["service"] == {"id": encode_id("Service", service.id)}
        assert payload["order"]["id"]
    else:
        field = ["input", "serviceId"] if code == "NOT_FOUND" else None
        assert payload == {"service": None, "order": None, "userErrors": [{"field": field, "code": code}]}
        assert await _unchanged(db, service)


async def test_anonymous_callers_are_unauthenticated(api: Api, db: Database) -> None:
    owner = await create_user(db)
    service = await create_service(db, account=await create_account(db, owner=owner))

    response = await api.new()(CHANGE_BRIEFLY, _change(service, [{"key": "disk", "value": "50"}]))

    assert response.codes == ["UNAUTHENTICATED"]
    assert response.data is None
    assert await _unchanged(db, service)


async def test_the_changed_service_is_hidden_from_a_member_who_may_not_view_services(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    service = await create_service(db, account=account)
    member = await create_user(db)
    await add_member(
        db, account=account, user=member, permissions=[Permission.MANAGE_SERVICES, Permission.PLACE_ORDERS]
    )
    client = await _client(api, db, settings, member)

    response = await client(CHANGE_BRIEFLY, _change(service, [{"key": "disk", "value": "50"}]))

    payload = response.data["changeServiceSpecifications"]
    assert payload["userErrors"] == []
    assert payload["order"]["id"]
    assert payload["service"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in response.errors] == [
        (["changeServiceSpecifications", "service"], "FORBIDDEN")
    ]


@pytest.mark.parametrize(
    ("specifications", "field"),
    [
        ([{"key": "cpu", "value": "4"}], ["input", "specifications", "0", "key"]),
        (
            [{"key": "disk", "value": "100"}, {"key": "mailboxes", "value": "999"}],
            ["input", "specifications", "1", "value"],
        ),
        (
            [{"key": "disk", "value": "50"}, {"key": "disk", "value": "100"}],
            ["input", "specifications", "1", "key"],
        ),
        ([{"key": "disk", "value": "10"}], ["input", "specifications"]),
        ([], ["input", "specifications"]),
    ],
)
async def test_invalid_specifications_change_nothing(
    api: Api, db: Database, settings: Settings, specifications: list[dict[str, str]], field: list[str]
) -> None:
    owner = await create_user(db)
    service = await create_service(db, account=await create_account(db, owner=owner))
    client = await _client(api, db, settings, owner)

    response = await client(CHANGE_BRIEFLY, _change(service, specifications))

    assert response.payload("changeServiceSpecifications")["userErrors"] == [
        {"field": field, "code": "INVALID"}
    ]
    assert await _unchanged(db, service)


@pytest.mark.parametrize(
    "status", [ServiceStatus.SUSPENDED, ServiceStatus.TERMINATED, ServiceStatus.CANCELLED]
)
async def test_only_active_or_pending_services_change(
    api: Api, db: Database, settings: Settings, status: ServiceStatus
) -> None:
    owner = await create_user(db)
    service = await create_service(db, account=await create_account(db, owner=owner), status=status)
    client = await _client(api, db, settings, owner)

    response = await client(CHANGE_BRIEFLY, _change(service, [{"key": "disk", "value": "50"}]))

    assert response.payload("changeServiceSpecifications")["userErrors"] == [
        {"field": ["input", "serviceId"], "code": "INVALID"}
    ]
    assert await _unchanged(db, service)


async def test_a_pending_service_pays_for_its_whole_first_period(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    service = await create_service(db, account=account, status=ServiceStatus.PENDING, next_due_date=None)
    client = await _client(api, db, settings, owner)

    response = await client(CHANGE, _change(service, [{"key": "disk", "value": "50"}]))

    payload = response.payload("changeServiceSpecifications")
    assert payload["order"]["invoice"]["subtotal"] == {"amount": "2.00"}


async def test_one_time_services_and_closed_accounts_cannot_change(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    one_time = await create_service(
        db, account=account, product_key="server-setup", billing_cycle=BillingCycle.ONE_TIME
    )
    closed = await create_account(db, owner=owner)
    in_closed = await create_service(db, account=closed)
    async with db.begin() as session:
        await session.execute(
            update(ClientAccount).where(ClientAccount.id == closed.id).values(status=AccountStatus.CLOSED)
        )
    client = await _client(api, db, settings, owner)

    once = await client(CHANGE_BRIEFLY, _change(one_time, [{"key": "disk", "value": "50"}]))
    after_closing = await client(CHANGE_BRIEFLY, _change(in_closed, [{"key": "disk", "value": "50"}]))

    assert once.payload("changeServiceSpecifications")["userErrors"] == [
        {"field": ["input", "serviceId"], "code": "INVALID"}
    ]
    assert after_closing.payload("changeServiceSpecifications")["userErrors"] == [
        {"field": None, "code": "INVALID"}
    ]
    assert await _unchanged(db, in_closed)


async def test_service_ids_that_are_not_services(api: Api, db: Database, settings: Settings) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    client = await _client(api, db, settings, owner)
    specifications = [{"key": "disk", "value": "50"}]

    malformed = await client(
        CHANGE_BRIEFLY, {"input": {"serviceId": "???", "specifications": specifications}}
    )
    of_another_type = await client(
        CHANGE_BRIEFLY,
        {"input": {"serviceId": encode_id("ClientAccount", account.id), "specifications": specifications}},
    )

    assert malformed.codes == ["BAD_USER_INPUT"]
    assert of_another_type.payload("changeServiceSpecifications")["userErrors"] == [
        {"field": ["input", "serviceId"], "code": "NOT_FOUND"}
    ]
