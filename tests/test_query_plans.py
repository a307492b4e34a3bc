"""On PostgreSQL, the cross-account lists are served by indexes, not sequential scans, at 10,000 accounts,
and a page of an agency's list is read in key order, not sorted from all its rows."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from clientarea.catalogue import sync_catalogue
from models import (
    ClientAccount,
    Contact,
    Domain,
    DomainStatus,
    Invoice,
    Membership,
    MembershipRole,
    Product,
    Service,
    ServiceStatus,
)
from models.base import utcnow, uuid7
from models.catalogue import BillingCycle
from models.database import Database
from models.permissions import ALL_MASK
from resolvers.core.settings import Settings
from tests.factories import create_user, session_for
from tests.graphql import Api

pytestmark = pytest.mark.usefixtures("postgres_only")

ACCOUNTS = 10_000
BIG_TABLES = ("services", "domains", "invoices", "memberships", "client_accounts")
LISTS = {
    "services": "{ viewer { services(first: 50) { totalCount edges { node { id label } } } } }",
    "domains": (
        '{ viewer { domains(first: 50, filter: {expiresBefore: "2100-01-01"}) '
        "{ totalCount edges { node { id name } } } } }"
    ),
    "invoices": "{ viewer { invoices(first: 50) { totalCount edges { node { id number } } } } }",
}


def _address(prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}first_name": "Erika",
        f"{prefix}last_name": "Muster",
        f"{prefix}company_name": None,
        f"{prefix}email": "billing@example.com",
        f"{prefix}phone": "+431234567",
        f"{prefix}line1": "Gasse 1",
        f"{prefix}line2": None,
        f"{prefix}city": "Wien",
        f"{prefix}state": None,
        f"{prefix}postal_code": "1010",
        f"{prefix}country_code": "AT",
    }


async def _populate(db: Database, owner_id: uuid.UUID, agency_id: uuid.UUID, count: int = ACCOUNTS) -> None:
    """`count` accounts of one owner, each with a contact, service, domain and invoice; the agency
    is a member of 50 of them."""
    await sync_catalogue(db)
    async with db.read() as session:
        hosting = await session.scalar(select(Product.id).where(Product.key == "webhosting-s"))
        domain_product = await session.scalar(select(Product.id).where(Product.key == "domain-at"))
    now = utcnow()
    accounts = [
        {
            "id": uuid7(),
            "name": f"Account {i:05}",
            "status": "ACTIVE",
            "currency_code": "EUR",
            "created_at": now,
            **_address("billing_"),
            "billing_tax_id": None,
        }
        for i in range(count)
    ]
    contacts = [
        {
            "id": uuid7(),
            "account_id": a["id"],
            "is_primary": True,
            "created_at": now,
            "updated_at": now,
            **_address(""),
        }
        for a in accounts
    ]
    memberships = [
        {
            "id": uuid7(),
            "user_id": owner_id,
            "account_id": a["id"],
            "role": MembershipRole.OWNER,
            "permissions": ALL_MASK,
            "created_at": now,
        }
        for a in accounts
    ]
    memberships += [
        {
            "id": uuid7(),
            "user_id": agency_id,
            "account_id": a["id"],
            "role": MembershipRole.USER,
            "permissions": ALL_MASK,
            "created_at": now,
        }
        for a in accounts[:: count // 50]
    ]
    services = [
        {
            "id": uuid7(),
            "account_id": a["id"],
            "product_id": hosting,
            "label": None,
            "status": ServiceStatus.ACTIVE,
            "billing_cycle": BillingCycle.MONTHLY,
            "recurring_amount": Decimal("4.90"),
            "currency_code": "EUR",
            "specifications": [],
            "next_due_date": date.today(),
            "created_at": now,
        }
        for a in accounts
    ]
    domains = [
        {
            "id": uuid7(),
            "account_id": a["id"],
            "product_id": domain_product,
            "name": f"d{i}.at",
            "status": DomainStatus.ACTIVE,
            "registered_at": date.today(),
            "expires_at": date.today() + timedelta(days=i % 700),
            "period_years": 1,
            "auto_renew": True,
            "locked": True,
            "nameservers": ["ns1.example.net", "ns2.example.net"],
            "registrant_contact_id": c["id"],
            "admin_contact_id": c["id"],
            "tech_contact_id": c["id"],
            "billing_contact_id": c["id"],
            "created_at": now,
        }
        for i, (a, c) in enumerate(zip(accounts, contacts, strict=True))
    ]
    invoices = [
        {
            "id": uuid7(),
            "account_id": a["id"],
            "order_id": None,
            "number": f"X-{i:06}",
            "status": "UNPAID",
            **_address("bill_to_"),
            "bill_to_tax_id": None,
            "currency_code": "EUR",
            "subtotal": Decimal("1.00"),
            "total": Decimal("1.20"),
            "issued_at": now,
            "due_at": date.today(),
        }
        for i, a in enumerate(accounts)
    ]
    async with db.begin() as session:
        for model, rows in (
            (ClientAccount, accounts),
            (Contact, contacts),
            (Membership, memberships),
            (Service, services),
            (Domain, domains),
            (Invoice, invoices),
        ):
            await session.execute(insert(model), rows)
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("ANALYZE"))


async def test_cross_account_lists_use_indexes(api: Api, db: Database, settings: Settings) -> None:
    owner = await create_user(db, email="owner@example.com")
    agency = await create_user(db, email="agency@example.com")
    await _populate(db, owner.id, agency.id)
    api.set_session(await session_for(db, settings, agency))

    for name, query in LISTS.items():
        db.counter.reset()
        response = await api(query)
        assert response.errors == []
        assert response.data["viewer"][name]["totalCount"] == 50
        async with db.engine.connect() as connection:
            # At test scale a sequential scan of a few megabytes is cheaper and the planner rightly
            # takes it; with sequential scans priced out, a remaining one means no index can serve
            # the query, which is what would hurt at production size.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            explained = 0
            for statement, parameters in zip(db.counter.statements, db.counter.parameters, strict=True):
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                explained += 1
                plan = "\n".join(
                    row[0] for row in await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
                )
                for table in BIG_TABLES:
                    assert f"Seq Scan on {table}" not in plan, f"{name}: {statement}\n{plan}"
            # The session lookup and the page at least (a page holding every row is its own count).
            assert explained >= 2


async def test_statements_are_planned_for_each_viewer(db: Database) -> None:
    # A generic plan, made once for any viewer, reads an agency's ten thousand accounts row by row
    # (benchmarks/read_paths.py --accounts 10000 showed 34 ms for a page that takes 2 ms planned).
    async with db.read() as session:
        mode = (await session.execute(text("SHOW plan_cache_mode"))).scalar_one()
    assert mode == "force_custom_plan"


async def test_the_two_factor_rule_reads_only_the_accounts_requiring_it(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db, email="owner@example.com")
    agency = await create_user(db, email="agency@example.com")
    await _populate(db, owner.id, agency.id)
    api.set_session(await session_for(db, settings, agency))
    db.counter.reset()
    response = await api(LISTS["services"])
    assert response.errors == []
    (page,) = [s for s in db.counter.statements if s.lstrip().startswith("SELECT services.")]
    parameters = db.counter.parameters[db.counter.statements.index(page)]
    async with db.engine.connect() as connection:
        plan = "\n".join(row[0] for row in await connection.exec_driver_sql("EXPLAIN " + page, parameters))
    # Not a scan of every account for the few that require two-factor sign-in (DESIGN rule 17).
    assert "ix_client_accounts_requiring_two_factor" in plan, plan


async def test_an_agency_in_every_account_reads_a_page_in_key_order(
    api: Api, db: Database, settings: Settings
) -> None:
    # Given an agency that manages every one of 1,000 accounts (at ten times as many, sorting them
    # all costs enough that the planner walked the key even while it overpriced the checks)
    owner = await create_user(db, email="owner@example.com")
    agency = await create_user(db, email="agency@example.com")
    await _populate(db, owner.id, agency.id, 1_000)
    big = await create_user(db, email="big@example.com")
    now = utcnow()
    async with db.begin() as session:
        accounts = (await session.execute(select(ClientAccount.id))).scalars().all()
        await session.execute(
            insert(Membership),
            [
                {
                    "id": uuid7(),
                    "user_id": big.id,
                    "account_id": account_id,
                    "role": MembershipRole.USER,
                    "permissions": ALL_MASK,
                    "created_at": now,
                }
                for account_id in accounts
            ],
        )
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("ANALYZE"))
    api.set_session(await session_for(db, settings, big))

    for name in ("services", "domains"):
        # When it reads the first page of a list across them
        db.counter.reset()
        response = await api(LISTS[name])
        assert response.errors == []
        assert response.data["viewer"][name]["totalCount"] == 1_000
        (page,) = [s for s in db.counter.statements if s.lstrip().startswith(f"SELECT {name}.")]
        parameters = db.counter.parameters[db.counter.statements.index(page)]
        async with db.engine.connect() as connection:
            explained = await connection.exec_driver_sql("EXPLAIN " + page, parameters)
            plan = "\n".join(row[0] for row in explained)
        # Then the plan walks the list's key and stops after a page, rather than sorting every row
        # of the agency's (the scope and two-factor checks priced as what they cost, DESIGN rules 16-17)
        assert "Sort" not in plan, plan
        assert f"pk_{name}" in plan, plan
