"""placeOrder: every item validated and priced, services and domains created, one invoice with taxes."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from clientarea.catalogue import sync_catalogue
from models import AccountStatus, ClientAccount, Contact, Domain, Order, Product, User
from models.database import Database
from models.permissions import Permission
from resolvers.billing.issuing import taxes_for
from resolvers.core.ids import encode_id
from resolvers.core.numbers import cents
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_user, session_for
from tests.graphql import Api

PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order {
      id number status placedBy { id email } account { id }
      total { amount currencyCode }
      items {
        domainName amount { amount currencyCode }
        service { id status } domain { id name status contacts { registrant { id } admin { id } } }
      }
      invoice {
        id number status total { amount currencyCode }
        billTo { firstName lastName companyName email }
      }
    }
    userErrors { field message code }
  }
}
"""
INVOICE = """
query Invoice($id: ID!) {
  node(id: $id) {
    ... on Invoice {
      number status subtotal { amount } total { amount }
      lines { description amount { amount } } taxes { name rate amount { amount } }
      billTo { address { countryCode } taxId }
    }
  }
}
"""


class Shop:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.products: dict[str, str] = {}

    async def load(self) -> Shop:
        await sync_catalogue(self.db)
        async with self.db.read() as session:
            for product in await session.scalars(select(Product)):
                self.products[product.key] = encode_id("Product", product.id)
        return self


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await Shop(db).load()


async def _customer(
    api: Api, db: Database, settings: Settings, *, country: str = "AT"
) -> tuple[User, ClientAccount, Api]:
    owner = await create_user(db, email="owner@example.com")
    account = await create_account(db, owner=owner, name="Customer GmbH", country=country)
    api.set_session(await session_for(db, settings, owner))
    return owner, account, api


def _hosting(shop: Shop, **overrides: Any) -> dict[str, Any]:
    return {"productId": shop.products["webhosting-s"], "billingCycle": "MONTHLY", **overrides}


def _domain(shop: Shop, name: str = "example.at", **overrides: Any) -> dict[str, Any]:
    return {
        "productId": shop.products["domain-at"],
        "billingCycle": "ANNUALLY",
        "domain": {"name": name, "action": "REGISTER", "period": 2, "contacts": {}, **overrides},
    }


def _input(account: ClientAccount, items: list[dict[str, Any]], key: str = "k1") -> dict[str, Any]:
    return {
        "input": {"accountId": encode_id("ClientAccount", account.id), "items": items, "idempotencyKey": key}
    }


async def _orders(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(Order)) or 0


async def test_hosting_and_a_domain_with_austrian_vat(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)

    response = await api(PLACE_ORDER, _input(account, [_hosting(shop), _domain(shop)]))

    order = response.payload("placeOrder")["order"]
    assert order["status"] == "PENDING"
    assert order["placedBy"]["email"] == "owner@example.com"
    assert order["total"] == {"amount": "41.64", "currencyCode": "EUR"}  # (4.90 + 2 * 14.90) * 1.2
    hosting, domain = order["items"]
    assert hosting["amount"]["amount"] == "4.90"
    assert hosting["service"]["status"] == "PENDING"
    assert domain["domainName"] == "example.at"
    assert domain["amount"]["amount"] == "29.80"
    assert domain["domain"]["status"] == "PENDING_REGISTRATION"
    async with db.read() as session:
        primary = await session.scalar(select(Contact.id).where(Contact.account_id == account.id))
    assert primary is not None
    registrant = encode_id("Contact", primary)
    assert domain["domain"]["contacts"] == {"registrant": {"id": registrant}, "admin": {"id": registrant}}
    invoice = order["invoice"]
    assert invoice["status"] == "UNPAID"
    assert invoice["total"] == order["total"]
    assert invoice["billTo"]["lastName"] == "Muster"
    detail = (await api(INVOICE, {"id": invoice["id"]})).data["node"]
    assert detail["subtotal"] == {"amount": "34.70"}
    assert detail["taxes"] == [{"name": "USt 20 %", "rate": "20.00", "amount": {"amount": "6.94"}}]
    assert [line["amount"]["amount"] for line in detail["lines"]] == ["4.90", "29.80"]


async def test_options_left_out_take_their_first_choice_and_surcharges_add_up(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)

    response = await api(
        PLACE_ORDER, _input(account, [_hosting(shop, specifications=[{"key": "disk", "value": "50"}])])
    )

    item = response.payload("placeOrder")["order"]["items"][0]
    assert item["amount"]["amount"] == "6.90"
    spec = await api(
        "query($id: ID!) { node(id: $id) { ... on Service {"
        " specifications { key value } recurringAmount { amount } } } }",
        {"id": item["service"]["id"]},
    )
    service = spec.data["node"]
    assert service["recurringAmount"] == {"amount": "6.90"}
    assert service["specifications"][0] == {"key": "disk", "value": "50"}
    assert len(service["specifications"]) == 2


@pytest.mark.parametrize(
    ("country", "tax_id", "expected"),
    [
        ("AT", None, ("USt 20 %", "20", "2.00")),
        ("AT", "ATU12345678", ("USt 20 %", "20", "2.00")),
        ("DE", "DE123456789", ("Reverse charge", "0", "0.00")),
        ("DE", None, ("USt 20 %", "20", "2.00")),
        ("US", None, ("Not taxable in Austria (outside the EU)", "0", "0.00")),
    ],
)
def test_tax_rules(country: str, tax_id: str | None, expected: tuple[str, str, str]) -> None:
    [line] = taxes_for(country_code=country, tax_id=tax_id, subtotal=Decimal("10.00"))

    assert (line.name, str(line.rate), str(line.amount)) == expected


def test_amounts_round_half_up_once() -> None:
    assert cents(Decimal("0.125")) == Decimal("0.13")
    assert cents(Decimal("2.675")) == Decimal("2.68")
    [line] = taxes_for(country_code="AT", tax_id=None, subtotal=Decimal("0.125") * 2 + Decimal("12.30"))
    assert line.amount == Decimal("2.51")


async def test_reverse_charge_for_an_eu_business(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings, country="DE")
    async with db.begin() as session:
        await session.execute(
            update(ClientAccount).where(ClientAccount.id == account.id).values(billing_tax_id="DE123456789")
        )

    order = (await api(PLACE_ORDER, _input(account, [_hosting(shop)]))).payload("placeOrder")["order"]

    assert order["total"]["amount"] == "4.90"


async def test_the_same_key_replays_and_other_input_is_refused(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)

    first = await api(PLACE_ORDER, _input(account, [_hosting(shop)], key="same"))
    again = await api(PLACE_ORDER, _input(account, [_hosting(shop)], key="same"))
    other = await api(PLACE_ORDER, _input(account, [_hosting(shop, billingCycle="ANNUALLY")], key="same"))

    assert again.payload("placeOrder")["order"]["id"] == first.payload("placeOrder")["order"]["id"]
    assert other.user_error_codes("placeOrder") == ["IDEMPOTENCY_KEY_REUSED"]
    assert await _orders(db) == 1


async def test_concurrent_requests_with_one_key_create_one_order(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    owner, account, _ = await _customer(api, db, settings)
    browsers = []
    for _ in range(5):
        browser = api.new()
        browser.set_session(await session_for(db, settings, owner))
        browsers.append(browser)

    responses = await asyncio.gather(
        *(b(PLACE_ORDER, _input(account, [_hosting(shop)], key="race")) for b in browsers)
    )

    ids = {r.payload("placeOrder")["order"]["id"] for r in responses}
    assert len(ids) == 1
    assert await _orders(db) == 1


async def test_order_numbers_have_no_gaps(api: Api, db: Database, settings: Settings, shop: Shop) -> None:
    _, account, api = await _customer(api, db, settings)

    first = await api(PLACE_ORDER, _input(account, [_hosting(shop)], key="a"))
    refused = await api(PLACE_ORDER, _input(account, [_domain(shop, name="bad..at")], key="b"))
    second = await api(PLACE_ORDER, _input(account, [_hosting(shop)], key="c"))

    assert refused.user_error_codes("placeOrder") == ["INVALID"]
    numbers = [int(r.payload("placeOrder")["order"]["number"]) for r in (first, second)]
    assert numbers[1] == numbers[0] + 1
    invoices = [r.payload("placeOrder")["order"]["invoice"]["number"] for r in (first, second)]
    assert int(invoices[1].split("-")[1]) == int(invoices[0].split("-")[1]) + 1


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({"specifications": [{"key": "nope", "value": "1"}]}, ["specifications", "0", "key"], "INVALID"),
        ({"specifications": [{"key": "disk", "value": "7"}]}, ["specifications", "0", "value"], "INVALID"),
        ({"billingCycle": "TRIENNIALLY"}, ["billingCycle"], "INVALID"),
        ({"label": "not a host name!"}, ["label"], "INVALID"),
    ],
)
async def test_invalid_service_items(
    api: Api, db: Database, settings: Settings, shop: Shop, item: dict[str, Any], field: list[str], code: str
) -> None:
    _, account, api = await _customer(api, db, settings)

    response = await api(PLACE_ORDER, _input(account, [_hosting(shop, **item)]))

    errors = response.payload("placeOrder")["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "items", "0", *field], code)]
    assert await _orders(db) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "example.de"}, ["domain", "name"]),
        ({"name": "sub.example.at"}, ["domain", "name"]),
        ({"name": "-bad-.at"}, ["domain", "name"]),
        ({"period": 0}, ["domain", "period"]),
        ({"period": 11}, ["domain", "period"]),
        ({"action": "TRANSFER"}, ["domain", "authCode"]),
        ({"nameservers": ["ns1.example.net"]}, ["domain", "nameservers"]),
    ],
)
async def test_invalid_domain_items(
    api: Api, db: Database, settings: Settings, shop: Shop, overrides: dict[str, Any], field: list[str]
) -> None:
    _, account, api = await _customer(api, db, settings)

    response = await api(PLACE_ORDER, _input(account, [_domain(shop, **overrides)]))

    errors = response.payload("placeOrder")["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "items", "0", *field], "INVALID")]
    assert await _orders(db) == 0


async def test_internationalised_names_are_stored_in_idna_form(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)

    response = await api(PLACE_ORDER, _input(account, [_domain(shop, name="Bäckerei-Müller.at")]))

    assert response.payload("placeOrder")["order"]["items"][0]["domainName"] == "xn--bckerei-mller-bfb28a.at"


async def test_a_held_or_doubled_domain_is_unavailable(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)
    await api(PLACE_ORDER, _input(account, [_domain(shop)], key="first"))

    held = await api(PLACE_ORDER, _input(account, [_domain(shop)], key="second"))
    doubled = await api(
        PLACE_ORDER, _input(account, [_domain(shop, name="x.at"), _domain(shop, name="X.at")], key="third")
    )

    assert held.user_error_codes("placeOrder") == ["DOMAIN_UNAVAILABLE"]
    assert doubled.user_error_codes("placeOrder") == ["DOMAIN_UNAVAILABLE"]
    assert await _orders(db) == 1


async def test_a_foreign_contact_is_not_found(api: Api, db: Database, settings: Settings, shop: Shop) -> None:
    _, account, api = await _customer(api, db, settings)
    stranger = await create_account(db, owner=await create_user(db))
    async with db.read() as session:
        foreign = await session.scalar(select(Contact.id).where(Contact.account_id == stranger.id))
    assert foreign is not None

    response = await api(
        PLACE_ORDER,
        _input(account, [_domain(shop, contacts={"adminContactId": encode_id("Contact", foreign)})]),
    )

    errors = response.payload("placeOrder")["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["input", "items", "0", "domain", "contacts", "adminContactId"], "NOT_FOUND")
    ]


async def test_a_closed_account_cannot_order(api: Api, db: Database, settings: Settings, shop: Shop) -> None:
    _, account, api = await _customer(api, db, settings)
    async with db.begin() as session:
        await session.execute(
            update(ClientAccount).where(ClientAccount.id == account.id).values(status=AccountStatus.CLOSED)
        )

    response = await api(PLACE_ORDER, _input(account, [_hosting(shop)]))

    assert response.user_error_codes("placeOrder") == ["INVALID"]


async def test_an_agency_orders_for_its_customer_billed_to_the_customer(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    customer = await create_account(db, owner=await create_user(db), name="Customer")
    agency_user = await create_user(db, email="agency@example.com")
    await add_member(
        db,
        account=customer,
        user=agency_user,
        permissions=[Permission.PLACE_ORDERS, Permission.VIEW_SERVICES],
    )
    api.set_session(await session_for(db, settings, agency_user))

    response = await api(PLACE_ORDER, _input(customer, [_hosting(shop)]))

    order = response.data["placeOrder"]["order"]
    assert order["account"]["id"] == encode_id("ClientAccount", customer.id)
    assert order["placedBy"]["email"] == "agency@example.com"
    # Without VIEW_INVOICES the invoice exists but this member may not read it.
    assert order["invoice"] is None
    assert [(e["path"][-1], e["extensions"]["code"]) for e in response.errors] == [("invoice", "FORBIDDEN")]


async def test_the_agency_registers_a_domain_for_a_third_party_billed_to_itself(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, agency, api = await _customer(api, db, settings)
    contact = await api(
        "mutation($input: CreateContactInput!) "
        "{ createContact(input: $input) { contact { id } userErrors { code } } }",
        {
            "input": {
                "accountId": encode_id("ClientAccount", agency.id),
                "contact": {
                    "firstName": "Kunde",
                    "lastName": "Dritter",
                    "email": "kunde@example.com",
                    "phone": "+43.1234567",
                    "address": {
                        "line1": "Gasse 1",
                        "city": "Graz",
                        "postalCode": "8010",
                        "countryCode": "AT",
                    },
                },
            }
        },
    )
    registrant = contact.payload("createContact")["contact"]["id"]

    response = await api(
        PLACE_ORDER,
        _input(agency, [_domain(shop, name="kunde.at", contacts={"registrantContactId": registrant})]),
    )

    item = response.payload("placeOrder")["order"]["items"][0]
    assert item["domain"]["contacts"] == {"registrant": {"id": registrant}, "admin": {"id": registrant}}
    assert response.payload("placeOrder")["order"]["account"]["id"] == encode_id("ClientAccount", agency.id)


@pytest.mark.parametrize(
    ("permissions", "code"),
    [([Permission.VIEW_INVOICES], "FORBIDDEN"), (None, "NOT_FOUND")],
)
async def test_ordering_needs_place_orders_in_that_account(
    api: Api, db: Database, settings: Settings, shop: Shop, permissions: list[Permission] | None, code: str
) -> None:
    account = await create_account(db, owner=await create_user(db))
    viewer = await create_user(db)
    if permissions is not None:
        await add_member(db, account=account, user=viewer, permissions=permissions)
    api.set_session(await session_for(db, settings, viewer))

    response = await api(PLACE_ORDER, _input(account, [_hosting(shop)]))

    assert response.user_error_codes("placeOrder") == [code]
    assert await _orders(db) == 0


async def test_listing_orders_costs_the_same_for_one_and_ten(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)
    query = """
    query($id: ID!) { account(id: $id) { orders(first: 20) { totalCount edges { node {
      number total { amount } placedBy { email }
      items { amount { amount } product { name } service { status } domain { name } }
      invoice { number lines { description } taxes { name } }
    } } } } }
    """
    counts = []
    for round_ in range(2):
        for index in range(1 if round_ == 0 else 9):
            items = [_hosting(shop), _domain(shop, name=f"d{round_}x{index}.at")]
            await api(PLACE_ORDER, _input(account, items, key=f"{round_}-{index}"))
        response, statements = await api.count(query, {"id": encode_id("ClientAccount", account.id)})
        assert response.errors == []
        counts.append(statements)

    assert counts[0] == counts[1]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Domain)) == 10
