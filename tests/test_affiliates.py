"""The affiliate programme: activation, referrals, commissions on paid hosting, clearing and voiding."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from clientarea.app import create_app
from clientarea.catalogue import sync_catalogue
from models import (
    Affiliate,
    AffiliateCommission,
    AuditEvent,
    ClientAccount,
    CommissionStatus,
    Invoice,
    OutboxEmail,
    Product,
    Service,
    ServiceStatus,
    User,
)
from models.database import Database
from models.permissions import Permission
from resolvers.affiliates import REFERRAL_ALPHABET, clear_commissions, record_commissions
from resolvers.billing.payments import mark_invoice_paid, refund_invoice
from resolvers.core.errors import Rejected, UserErrorCode
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from schema.core.ids import decode_id
from tests.conftest import ROOT, make_settings
from tests.factories import BILLING, add_member, create_account, create_user, session_for
from tests.graphql import Api
from tests.servers import clientarea_server

ACTIVATE = """
mutation Activate($id: ID!) {
  activateAffiliate(input: { accountId: $id }) {
    affiliate { referralCode commissionRate referredAccountsCount balance { amount currencyCode } }
    userErrors { field message code }
  }
}
"""
AFFILIATE = """
query Affiliate($id: ID!, $first: Int, $after: String) {
  account(id: $id) {
    affiliate {
      referralCode commissionRate referredAccountsCount
      balance { amount currencyCode }
      commissions(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { amount { amount currencyCode } status clearsAt createdAt referredAccountName } }
      }
    }
  }
}
"""
ON_BEHALF = """
mutation OnBehalf($input: CreateClientAccountOnBehalfInput!) {
  createClientAccountOnBehalf(input: $input) { account { id } membership { id } userErrors { code } }
}
"""
PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { invoice { number total { amount } } } userErrors { field code } }
}
"""
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { account { id } userErrors { field message code } }
}
"""
TRANSFER = """
mutation Transfer($id: ID!) {
  transferAccountOwnership(input: { membershipId: $id }) { account { id } userErrors { code } }
}
"""
MINT = """
mutation Mint($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { code } } }
"""

PASSWORD = "a long enough passphrase"
PAID_AT = datetime(2030, 3, 1, 9, 30, tzinfo=UTC)
HOLD = timedelta(days=30)


@dataclass
class Agency:
    user: User
    account: ClientAccount
    api: Api

    @property
    def account_id(self) -> str:
        return encode_id("ClientAccount", self.account.id)


@pytest.fixture
async def products(db: Database) -> dict[str, str]:
    await sync_catalogue(db)
    async with db.read() as session:
        return {p.key: encode_id("Product", p.id) for p in await session.scalars(select(Product))}


@pytest.fixture
async def agency(api: Api, db: Database, settings: Settings) -> Agency:
    user = await create_user(db, email="office@agency.example", name="Web Agency")
    account = await create_account(db, owner=user, name="Web Agency GmbH")
    api.set_session(await session_for(db, settings, user))
    return Agency(user, account, api)


def _on_behalf_input(name: str = "Customer KG", email: str = "erika@customer.example") -> dict[str, Any]:
    return {
        "input": {
            "owner": {"email": email, "name": "Erika Muster"},
            "name": name,
            "billingProfile": BILLING,
            "permissions": ["PLACE_ORDERS", "VIEW_INVOICES", "VIEW_SERVICES"],
            "powerOfAttorney": True,
        }
    }


def _hosting_and_domain(products: dict[str, str], domain: str = "customer.at") -> list[dict[str, Any]]:
    return [
        {
            # 4.90 + 1.50 for 50 mailboxes, net a month.
            "productId": products["webhosting-s"],
            "billingCycle": "MONTHLY",
            "specifications": [{"key": "mailboxes", "value": "50"}],
        },
        {
            # 2 x 14.90 net; domains earn no commission.
            "productId": products["domain-at"],
            "billingCycle": "ANNUALLY",
            "domain": {"name": domain, "action": "REGISTER", "period": 2, "contacts": {}},
        },
    ]


async def _activate(api: Api, account_id: str) -> dict[str, Any]:
    payload = (await api(ACTIVATE, {"id": account_id})).payload("activateAffiliate")
    assert payload["userErrors"] == []
    affiliate: dict[str, Any] = payload["affiliate"]
    return affiliate


async def _register_customer(api: Api, **names: str) -> str:
    payload = (await api(ON_BEHALF, _on_behalf_input(**names))).payload("createClientAccountOnBehalf")
    assert payload["userErrors"] == []
    account_id: str = payload["account"]["id"]
    return account_id


async def _order(api: Api, account_id: str, items: list[dict[str, Any]], key: str = "k1") -> str:
    payload = (
        await api(PLACE_ORDER, {"input": {"accountId": account_id, "items": items, "idempotencyKey": key}})
    ).payload("placeOrder")
    assert payload["userErrors"] == []
    number: str = payload["order"]["invoice"]["number"]
    return number


async def _affiliate(api: Api, account_id: str, **paging: Any) -> dict[str, Any]:
    response = await api(AFFILIATE, {"id": account_id, **paging})
    assert response.errors == []
    affiliate: dict[str, Any] = response.data["account"]["affiliate"]
    return affiliate


def _pk(account_id: str) -> uuid.UUID:
    pk = decode_id(account_id, "ClientAccount")
    assert pk is not None
    return pk


async def _set_services(db: Database, account_id: str, status: ServiceStatus) -> None:
    async with db.begin() as session:
        await session.execute(
            update(Service).where(Service.account_id == _pk(account_id)).values(status=status)
        )


async def _commissions(db: Database) -> list[AffiliateCommission]:
    async with db.read() as session:
        return list(await session.scalars(select(AffiliateCommission).order_by(AffiliateCommission.id)))


async def _referrer(db: Database, account_id: str) -> uuid.UUID | None:
    async with db.read() as session:
        return await session.scalar(
            select(ClientAccount.referred_by_affiliate_id).where(ClientAccount.id == _pk(account_id))
        )


async def _affiliate_id(db: Database, account: ClientAccount) -> uuid.UUID:
    async with db.read() as session:
        found = await session.scalar(select(Affiliate.id).where(Affiliate.account_id == account.id))
    assert found is not None
    return found


@pytest.fixture
async def paid_customer(
    agency: Agency, db: Database, settings: Settings, products: dict[str, str]
) -> tuple[str, str]:
    """The seed's flow up to the payment: the agency activates, registers its customer, orders
    hosting and a domain for it, and the customer's invoice is paid. Returns (customer, invoice)."""
    await _activate(agency.api, agency.account_id)
    customer = await _register_customer(agency.api)
    number = await _order(agency.api, customer, _hosting_and_domain(products))
    await mark_invoice_paid(db, settings, number=number, paid_at=PAID_AT)
    return customer, number


# ---------------------------------------------------------------- the seed's flow


async def test_an_agency_earns_a_pending_commission_on_its_customers_hosting(
    agency: Agency, paid_customer: tuple[str, str]
) -> None:
    affiliate = await _affiliate(agency.api, agency.account_id)

    assert affiliate["referredAccountsCount"] == 1
    assert affiliate["commissionRate"] == "10.00"
    assert affiliate["balance"] == {"amount": "0.00", "currencyCode": "EUR"}
    assert affiliate["commissions"]["totalCount"] == 1
    [edge] = affiliate["commissions"]["edges"]
    commission = edge["node"]
    # 10 % of the hosting's 6.40 net: not of the domain's 29.80, not of the VAT.
    assert commission["amount"] == {"amount": "0.64", "currencyCode": "EUR"}
    assert commission["status"] == "PENDING"
    assert datetime.fromisoformat(commission["clearsAt"]) == PAID_AT + HOLD
    assert commission["referredAccountName"] == "Customer KG"


async def test_the_commission_clears_after_the_hold_when_the_service_is_active(
    agency: Agency, db: Database, paid_customer: tuple[str, str]
) -> None:
    customer, _ = paid_customer
    await _set_services(db, customer, ServiceStatus.ACTIVE)

    early = await clear_commissions(db, now=PAID_AT + HOLD - timedelta(seconds=1))
    cleared = await clear_commissions(db, now=PAID_AT + HOLD)
    again = await clear_commissions(db, now=PAID_AT + HOLD + timedelta(days=1))

    assert (early, cleared, again) == (0, 1, 0)
    affiliate = await _affiliate(agency.api, agency.account_id)
    assert affiliate["balance"] == {"amount": "0.64", "currencyCode": "EUR"}
    assert affiliate["commissions"]["edges"][0]["node"]["status"] == "CLEARED"


@pytest.mark.parametrize("status", [ServiceStatus.TERMINATED, ServiceStatus.CANCELLED, ServiceStatus.PENDING])
async def test_a_service_no_longer_active_voids_the_commission(
    agency: Agency, db: Database, paid_customer: tuple[str, str], status: ServiceStatus
) -> None:
    customer, _ = paid_customer
    await _set_services(db, customer, status)

    assert await clear_commissions(db, now=PAID_AT + HOLD) == 1

    affiliate = await _affiliate(agency.api, agency.account_id)
    assert affiliate["commissions"]["edges"][0]["node"]["status"] == "VOID"
    assert affiliate["balance"]["amount"] == "0.00"


async def test_a_refund_voids_the_pending_commission(
    agency: Agency, db: Database, settings: Settings, paid_customer: tuple[str, str]
) -> None:
    customer, number = paid_customer
    await _set_services(db, customer, ServiceStatus.ACTIVE)

    refunded = await refund_invoice(db, settings, number=number)

    assert refunded.status.value == "REFUNDED"
    [commission] = await _commissions(db)
    assert commission.status is CommissionStatus.VOID
    assert await clear_commissions(db, now=PAID_AT + HOLD) == 0
    with pytest.raises(Rejected) as again:
        await refund_invoice(db, settings, number=number)
    assert again.value.problems[0].code is UserErrorCode.INVALID


async def test_a_refund_after_the_hold_leaves_the_cleared_commission(
    db: Database, settings: Settings, paid_customer: tuple[str, str]
) -> None:
    customer, number = paid_customer
    await _set_services(db, customer, ServiceStatus.ACTIVE)
    await clear_commissions(db, now=PAID_AT + HOLD)

    await refund_invoice(db, settings, number=number)

    [commission] = await _commissions(db)
    assert commission.status is CommissionStatus.CLEARED


async def test_marking_paid_twice_is_refused_and_earns_once(
    db: Database, settings: Settings, paid_customer: tuple[str, str]
) -> None:
    _, number = paid_customer

    with pytest.raises(Rejected) as second:
        await mark_invoice_paid(db, settings, number=number)

    assert second.value.problems[0].code is UserErrorCode.INVALID
    assert "UNPAID" in second.value.problems[0].message
    async with db.begin() as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.number == number))
        assert invoice is not None
        # Even a caller that records again for a paid invoice earns nothing twice.
        await record_commissions(session, invoice=invoice, settings=settings)
    assert len(await _commissions(db)) == 1


async def test_unknown_and_unpaid_invoices_are_refused(db: Database, settings: Settings) -> None:
    with pytest.raises(Rejected) as unknown:
        await mark_invoice_paid(db, settings, number="1999-000001")
    with pytest.raises(Rejected) as naive:
        await mark_invoice_paid(db, settings, number="1999-000001", paid_at=datetime(2030, 1, 1))

    assert unknown.value.problems[0].code is UserErrorCode.NOT_FOUND
    assert naive.value.problems[0].code is UserErrorCode.INVALID


async def test_payments_are_audited_as_system(
    db: Database, settings: Settings, paid_customer: tuple[str, str]
) -> None:
    customer, number = paid_customer

    await refund_invoice(db, settings, number=number)

    async with db.read() as session:
        events = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["invoice.marked_paid", "invoice.refunded"]))
                .order_by(AuditEvent.id)
            )
        )
    assert [(e.action, e.credential, e.actor_id, e.account_id) for e in events] == [
        ("invoice.marked_paid", "system", None, _pk(customer)),
        ("invoice.refunded", "system", None, _pk(customer)),
    ]


async def test_an_account_that_only_buys_domains_earns_nothing(
    agency: Agency, db: Database, settings: Settings, products: dict[str, str]
) -> None:
    await _activate(agency.api, agency.account_id)
    customer = await _register_customer(agency.api)
    number = await _order(agency.api, customer, _hosting_and_domain(products)[1:])

    await mark_invoice_paid(db, settings, number=number, paid_at=PAID_AT)

    assert await _commissions(db) == []


async def test_the_rate_is_the_affiliates_and_rounds_half_up(
    agency: Agency, db: Database, settings: Settings, products: dict[str, str]
) -> None:
    await _activate(agency.api, agency.account_id)
    async with db.begin() as session:
        await session.execute(update(Affiliate).values(commission_rate=Decimal("25.00")))
    customer = await _register_customer(agency.api)
    hosting = {"productId": products["webhosting-s"], "billingCycle": "MONTHLY"}
    number = await _order(agency.api, customer, [hosting])

    await mark_invoice_paid(db, settings, number=number, paid_at=PAID_AT)

    [commission] = await _commissions(db)
    assert commission.amount == Decimal("1.23")  # 25 % of 4.90 is 1.225


async def test_commissions_page_newest_first(
    agency: Agency, db: Database, settings: Settings, products: dict[str, str]
) -> None:
    await _activate(agency.api, agency.account_id)
    first_customer = await _register_customer(agency.api, name="First KG", email="first@customer.example")
    second_customer = await _register_customer(agency.api, name="Second KG", email="second@customer.example")
    for key, customer in (("a", first_customer), ("b", second_customer)):
        number = await _order(agency.api, customer, _hosting_and_domain(products, f"{key}.at"), key=key)
        await mark_invoice_paid(db, settings, number=number, paid_at=PAID_AT)

    page = (await _affiliate(agency.api, agency.account_id, first=1))["commissions"]
    rest = (await _affiliate(agency.api, agency.account_id, first=1, after=page["pageInfo"]["endCursor"]))[
        "commissions"
    ]

    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is True
    names = [e["node"]["referredAccountName"] for e in page["edges"] + rest["edges"]]
    assert names == ["Second KG", "First KG"]
    assert rest["pageInfo"]["hasNextPage"] is False


# ---------------------------------------------------------------- the command line


async def _cli(database_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clientarea.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, "CLIENTAREA_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_staff_mark_an_invoice_paid_and_refund_it_by_command(
    agency: Agency, db: Database, database_url: str, products: dict[str, str]
) -> None:
    await _activate(agency.api, agency.account_id)
    customer = await _register_customer(agency.api)
    number = await _order(agency.api, customer, _hosting_and_domain(products))

    paid = await _cli(database_url, "invoices", "mark-paid", number)
    paid_again = await _cli(database_url, "invoices", "mark-paid", number)
    unknown = await _cli(database_url, "invoices", "refund", "1999-000001")

    assert paid[:2] == (0, f"invoice {number} is PAID\n")
    assert paid_again[0] == 1
    assert "only an UNPAID invoice can be marked paid" in paid_again[2]
    assert unknown[0] == 1
    assert "No invoice 1999-000001" in unknown[2]
    [commission] = (await _affiliate(agency.api, agency.account_id))["commissions"]["edges"]
    assert commission["node"]["amount"]["amount"] == "0.64"
    assert commission["node"]["status"] == "PENDING"

    refunded = await _cli(database_url, "invoices", "refund", number)

    assert refunded[:2] == (0, f"invoice {number} is REFUNDED\n")
    assert [c.status for c in await _commissions(db)] == [CommissionStatus.VOID]


VERIFY_EMAIL = "mutation($token: String!) { verifyEmail(input: {token: $token}) { user { id } } }"


@pytest.mark.e2e
async def test_the_seed_flow_over_real_http(db: Database, database_url: str) -> None:
    """Done when: an agency activates its programme, registers a customer's account on its behalf,
    the customer's first invoice is marked paid, and the agency's affiliate shows the commission."""
    await sync_catalogue(db)
    async with db.read() as session:
        hosting = await session.scalar(select(Product.id).where(Product.key == "webhosting-s"))
    assert hosting is not None
    async with clientarea_server(database_url) as server, httpx.AsyncClient(base_url=server) as browser:

        async def gql(query: str, variables: dict[str, Any]) -> Any:
            body = (await browser.post("/graphql", json={"query": query, "variables": variables})).json()
            assert "errors" not in body, body
            return body["data"]

        signed_up = await gql(
            SIGN_UP,
            {
                "input": {
                    "email": "office@agency.example",
                    "name": "Web Agency",
                    "password": PASSWORD,
                    "accountName": "Web Agency GmbH",
                    "billingProfile": BILLING,
                }
            },
        )
        agency_id = signed_up["signUp"]["account"]["id"]
        # Registering a customer on their behalf waits for the agency's proven address.
        async with db.read() as session:
            mail = await session.scalar(
                select(OutboxEmail.text_body).where(OutboxEmail.template == "email_verification")
            )
        link = re.search(r"/email/verify\?token=([A-Za-z0-9_-]+)", mail or "")
        assert link is not None
        await gql(VERIFY_EMAIL, {"token": link.group(1)})
        await gql(ACTIVATE, {"id": agency_id})
        customer = (await gql(ON_BEHALF, _on_behalf_input()))["createClientAccountOnBehalf"]["account"]["id"]
        item = {"productId": encode_id("Product", hosting), "billingCycle": "MONTHLY"}
        order = await gql(
            PLACE_ORDER, {"input": {"accountId": customer, "items": [item], "idempotencyKey": "first"}}
        )
        number = order["placeOrder"]["order"]["invoice"]["number"]

        code, out, _ = await _cli(database_url, "invoices", "mark-paid", number)

        assert (code, out) == (0, f"invoice {number} is PAID\n")
        affiliate = (await gql(AFFILIATE, {"id": agency_id}))["account"]["affiliate"]
    assert affiliate["referredAccountsCount"] == 1
    [edge] = affiliate["commissions"]["edges"]
    assert edge["node"]["status"] == "PENDING"
    assert edge["node"]["amount"] == {"amount": "0.49", "currencyCode": "EUR"}
    assert edge["node"]["referredAccountName"] == "Customer KG"


# ---------------------------------------------------------------- activation


async def test_activation_gives_an_unguessable_code_and_is_idempotent(agency: Agency, db: Database) -> None:
    first = await _activate(agency.api, agency.account_id)
    second = await _activate(agency.api, agency.account_id)

    assert first == second
    code = first["referralCode"]
    assert len(code) >= 10
    assert set(code) <= set(REFERRAL_ALPHABET)
    assert first["commissionRate"] == "10.00"
    async with db.read() as session:
        affiliates = await session.scalar(select(func.count()).select_from(Affiliate))
        events = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "affiliate.activated")
        )
    assert (affiliates, events) == (1, 1)


async def test_concurrent_activations_make_one_affiliate(agency: Agency, db: Database) -> None:
    other_tab = agency.api.new()
    other_tab.set_session(agency.api.client.cookies["clientarea_session"])

    first, second = await asyncio.gather(
        agency.api(ACTIVATE, {"id": agency.account_id}), other_tab(ACTIVATE, {"id": agency.account_id})
    )

    codes = {r.payload("activateAffiliate")["affiliate"]["referralCode"] for r in (first, second)}
    assert len(codes) == 1
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Affiliate)) == 1


async def test_codes_differ_between_accounts(agency: Agency, db: Database) -> None:
    other = await create_account(db, owner=agency.user, name="Second")

    first = await _activate(agency.api, agency.account_id)
    second = await _activate(agency.api, encode_id("ClientAccount", other.id))

    assert first["referralCode"] != second["referralCode"]


async def test_the_rate_comes_from_settings_when_activated(
    db: Database, database_url: str, agency: Agency
) -> None:
    app = create_app(make_settings(database_url, affiliate_commission_rate="12.5"), db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        client.cookies.set("clientarea_session", agency.api.client.cookies["clientarea_session"])
        response = await client.post(
            "/graphql", json={"query": ACTIVATE, "variables": {"id": agency.account_id}}
        )

    assert response.json()["data"]["activateAffiliate"]["affiliate"]["commissionRate"] == "12.50"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLIENTAREA_AFFILIATE_COMMISSION_RATE", raising=False)
    monkeypatch.delenv("CLIENTAREA_AFFILIATE_HOLD_DAYS", raising=False)
    defaults = Settings()
    monkeypatch.setenv("CLIENTAREA_AFFILIATE_COMMISSION_RATE", "7.5")
    monkeypatch.setenv("CLIENTAREA_AFFILIATE_HOLD_DAYS", "14")

    configured = Settings()

    assert (defaults.affiliate_commission_rate, defaults.affiliate_hold_days) == (Decimal("10"), 30)
    assert (configured.affiliate_commission_rate, configured.affiliate_hold_days) == (Decimal("7.5"), 14)


# ---------------------------------------------------------------- referrals


def _sign_up_input(**overrides: Any) -> dict[str, Any]:
    return {
        "input": {
            "email": "new@customer.example",
            "name": "New Customer",
            "password": PASSWORD,
            "accountName": "New Customer GmbH",
            "billingProfile": BILLING,
            **overrides,
        }
    }


async def test_sign_up_with_a_referral_code_is_referred(agency: Agency, db: Database) -> None:
    code = (await _activate(agency.api, agency.account_id))["referralCode"]

    # Typed by hand: surrounding blanks and lower case are forgiven.
    response = await agency.api.new()(SIGN_UP, _sign_up_input(referralCode=f"  {code.lower()} "))

    payload = response.payload("signUp")
    assert payload["userErrors"] == []
    assert await _referrer(db, payload["account"]["id"]) == await _affiliate_id(db, agency.account)
    assert (await _affiliate(agency.api, agency.account_id))["referredAccountsCount"] == 1


async def test_sign_up_with_an_unknown_code_is_refused_and_creates_nothing(api: Api, db: Database) -> None:
    response = await api(SIGN_UP, _sign_up_input(referralCode="NOPE23456789"))

    payload = response.payload("signUp")
    assert payload["account"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "referralCode"], "INVALID")
    ]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("code", [None, "", "   "])
async def test_sign_up_without_a_code_is_not_referred(api: Api, db: Database, code: str | None) -> None:
    response = await api(SIGN_UP, _sign_up_input(referralCode=code))

    account_id = response.payload("signUp")["account"]["id"]
    assert await _referrer(db, account_id) is None


async def test_on_behalf_without_an_affiliate_is_not_referred(agency: Agency, db: Database) -> None:
    customer = await _register_customer(agency.api)

    assert await _referrer(db, customer) is None


async def _programme_of_a_stranger(
    agency: Agency, db: Database, settings: Settings, name: str, permissions: list[Permission]
) -> ClientAccount:
    """An account someone else owns, with its programme active, where the agent is a member."""
    stranger = await create_user(db)
    account = await create_account(db, owner=stranger, name=name)
    await add_member(db, account=account, user=agency.user, permissions=permissions)
    client = agency.api.new()
    client.set_session(await session_for(db, settings, stranger))
    await _activate(client, encode_id("ClientAccount", account.id))
    return account


async def test_on_behalf_credits_the_first_created_account_the_agent_owns(
    agency: Agency, db: Database, settings: Settings
) -> None:
    await _programme_of_a_stranger(agency, db, settings, "Managed", [Permission.MANAGE_AFFILIATE])
    agency_one = await create_account(db, owner=agency.user, name="Agency One")
    agency_two = await create_account(db, owner=agency.user, name="Agency Two")
    for account in (agency_two, agency_one):
        await _activate(agency.api, encode_id("ClientAccount", account.id))

    customer = await _register_customer(agency.api)

    assert await _referrer(db, customer) == await _affiliate_id(db, agency_one)


async def test_on_behalf_credits_a_programme_the_agent_manages_not_one_it_merely_joined(
    agency: Agency, db: Database, settings: Settings
) -> None:
    await _programme_of_a_stranger(agency, db, settings, "Bystander", [Permission.VIEW_SERVICES])
    managed = await _programme_of_a_stranger(agency, db, settings, "Managed", [Permission.MANAGE_AFFILIATE])

    customer = await _register_customer(agency.api)

    assert await _referrer(db, customer) == await _affiliate_id(db, managed)


async def test_no_commission_on_the_affiliates_own_purchases(
    agency: Agency, db: Database, settings: Settings, products: dict[str, str]
) -> None:
    await _activate(agency.api, agency.account_id)
    # No API path refers an account to itself; the rule holds even if data says so.
    async with db.begin() as session:
        await session.execute(
            update(ClientAccount)
            .where(ClientAccount.id == agency.account.id)
            .values(referred_by_affiliate_id=select(Affiliate.id).scalar_subquery())
        )
    number = await _order(agency.api, agency.account_id, _hosting_and_domain(products))

    await mark_invoice_paid(db, settings, number=number, paid_at=PAID_AT)

    assert await _commissions(db) == []


async def test_no_commission_once_the_agency_owns_the_referred_account(
    agency: Agency, db: Database, settings: Settings, products: dict[str, str]
) -> None:
    await _activate(agency.api, agency.account_id)
    payload = (await agency.api(ON_BEHALF, _on_behalf_input())).payload("createClientAccountOnBehalf")
    customer, membership = payload["account"]["id"], payload["membership"]["id"]
    async with db.read() as session:
        owner = await session.scalar(select(User).where(User.email == "erika@customer.example"))
    assert owner is not None
    customer_api = agency.api.new()
    customer_api.set_session(await session_for(db, settings, owner))
    transferred = (await customer_api(TRANSFER, {"id": membership})).payload("transferAccountOwnership")
    assert transferred["userErrors"] == []
    number = await _order(agency.api, customer, _hosting_and_domain(products))

    await mark_invoice_paid(db, settings, number=number, paid_at=PAID_AT)

    assert await _commissions(db) == []


# ---------------------------------------------------------------- permissions


ROLES = ["owner", "manager", "member", "narrow_token", "outsider", "anonymous"]


async def _viewer(role: str, api: Api, db: Database, settings: Settings, agency: Agency) -> Api:
    """A client acting in the agency's account as `role`: the owner, a USER with or without
    MANAGE_AFFILIATE, the owner through a token without it, a member of another account only, or
    nobody."""
    if role == "anonymous":
        return api.new()
    user = agency.user
    if role == "outsider":
        user = await create_user(db)
        await create_account(db, owner=user)
    elif role in {"manager", "member"}:
        user = await create_user(db)
        granted = [p for p in Permission if (p is Permission.MANAGE_AFFILIATE) == (role == "manager")]
        await add_member(db, account=agency.account, user=user, permissions=granted)
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    if role != "narrow_token":
        return client
    minted = (await client(MINT, {"input": {"name": "partner", "permissions": ["VIEW_SERVICES"]}})).payload(
        "createApiToken"
    )
    return api.with_token(minted["token"])


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_see_the_affiliate(
    role: str, agency: Agency, api: Api, db: Database, settings: Settings
) -> None:
    await _activate(agency.api, agency.account_id)
    viewer = await _viewer(role, api, db, settings, agency)

    response = await viewer(
        "query($id: ID!) { account(id: $id) { affiliate { referralCode } } }", {"id": agency.account_id}
    )

    account = response.data["account"]
    if role in {"owner", "manager"}:
        assert response.errors == []
        assert account["affiliate"]["referralCode"]
    elif role in {"member", "narrow_token"}:
        assert account == {"affiliate": None}
        [error] = response.errors
        assert error["path"] == ["account", "affiliate"]
        assert error["extensions"] == {"code": "FORBIDDEN", "requiredPermissions": ["MANAGE_AFFILIATE"]}
    else:
        assert account is None
        assert response.errors == []


async def test_the_affiliate_is_null_when_never_activated(agency: Agency) -> None:
    response = await agency.api(AFFILIATE, {"id": agency.account_id})

    assert response.errors == []
    assert response.data["account"] == {"affiliate": None}


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_activate(
    role: str, agency: Agency, api: Api, db: Database, settings: Settings
) -> None:
    viewer = await _viewer(role, api, db, settings, agency)

    response = await viewer(ACTIVATE, {"id": agency.account_id})

    async with db.read() as session:
        created = await session.scalar(select(func.count()).select_from(Affiliate))
    if role == "anonymous":
        assert response.codes == ["UNAUTHENTICATED"]
        assert created == 0
        return
    payload = response.payload("activateAffiliate")
    expected = {"owner": [], "manager": [], "member": ["FORBIDDEN"], "narrow_token": ["FORBIDDEN"]}
    codes = [e["code"] for e in payload["userErrors"]]
    assert codes == expected.get(role, ["NOT_FOUND"])
    assert (payload["affiliate"] is not None) == (codes == [])
    assert created == (1 if codes == [] else 0)


async def test_a_malformed_account_id_is_bad_user_input(agency: Agency) -> None:
    response = await agency.api(ACTIVATE, {"id": "not-an-id"})

    assert response.codes == ["BAD_USER_INPUT"]
