"""The provider's staff commands and the periodic jobs: state machines, refusals, audit, and the CLI."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from clientarea.catalogue import sync_catalogue
from clientarea.cli import build_parser
from models import (
    AccountStatus,
    AuditEvent,
    ClientAccount,
    Domain,
    DomainStatus,
    IdempotencyKey,
    Invoice,
    InvoiceStatus,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    RateLimitHit,
    Service,
    ServiceLogin,
    ServiceStatus,
    Session,
)
from models.base import utcnow
from models.database import Database
from models.hosting import CancellationType
from resolvers.core.errors import Rejected
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from resolvers.staff import jobs, operations
from tests.conftest import ROOT
from tests.factories import create_account, create_domain, create_service, create_user, session_for
from tests.graphql import Api

PLACE_ORDER = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { number } userErrors { field code } }
}
"""
CHANGE = """
mutation($input: ChangeServiceSpecificationsInput!) {
  changeServiceSpecifications(input: $input) { order { number } userErrors { code } }
}
"""
_names = itertools.count(1)


@dataclass
class Placed:
    """A PENDING order of one hosting service and one .at domain (2 years), and who placed it."""

    client: Api
    account: ClientAccount
    number: str
    service_id: uuid.UUID
    domain_id: uuid.UUID
    invoice_id: uuid.UUID


async def _product(db: Database, key: str) -> str:
    async with db.read() as session:
        product_id = await session.scalar(select(Product.id).where(Product.key == key))
    assert product_id is not None
    return encode_id("Product", product_id)


async def _place(api: Api, db: Database, settings: Settings, *, transfer: bool = False) -> Placed:
    await sync_catalogue(db)
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    client = api.new()
    client.set_session(await session_for(db, settings, owner))
    domain: dict[str, Any] = {"name": f"shop{next(_names)}.at", "period": 2, "contacts": {}}
    domain.update({"action": "TRANSFER", "authCode": "EPP-123"} if transfer else {"action": "REGISTER"})
    items = [
        {"productId": await _product(db, "webhosting-s"), "billingCycle": "MONTHLY"},
        {"productId": await _product(db, "domain-at"), "billingCycle": "ANNUALLY", "domain": domain},
    ]
    response = await client(
        PLACE_ORDER,
        {
            "input": {
                "accountId": encode_id("ClientAccount", account.id),
                "items": items,
                "idempotencyKey": "k",
            }
        },
    )
    number = response.payload("placeOrder")["order"]["number"]
    async with db.read() as session:
        order = await session.scalar(select(Order).where(Order.number == number))
        assert order is not None
        rows = (
            await session.execute(
                select(OrderItem.service_id, OrderItem.domain_id)
                .where(OrderItem.order_id == order.id)
                .order_by(OrderItem.position)
            )
        ).all()
        invoice_id = await session.scalar(select(Invoice.id).where(Invoice.order_id == order.id))
    (service_id, _), (_, domain_id) = rows
    assert service_id is not None
    assert domain_id is not None
    assert invoice_id is not None
    return Placed(client, account, number, service_id, domain_id, invoice_id)


async def _get(db: Database, model: type[Any], key: uuid.UUID) -> Any:
    async with db.read() as session:
        return await session.get_one(model, key)


async def _order(db: Database, number: str) -> Order:
    async with db.read() as session:
        order = await session.scalar(select(Order).where(Order.number == number))
    assert order is not None
    return order


async def _events(db: Database, action: str) -> list[AuditEvent]:
    async with db.read() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _refusal(raised: pytest.ExceptionInfo[Rejected]) -> tuple[str, str]:
    [problem] = raised.value.problems
    return problem.code.value, problem.message


# --- orders -------------------------------------------------------------------------------


async def test_accepting_an_order_activates_its_services_and_registers_its_domains(
    api: Api, db: Database, settings: Settings
) -> None:
    placed = await _place(api, db, settings, transfer=True)

    done = await operations.accept_order(db, settings, number=placed.number, today=date(2028, 2, 29))

    assert done.order.status is OrderStatus.ACTIVE
    assert (await _order(db, placed.number)).status is OrderStatus.ACTIVE
    assert (await _get(db, Service, placed.service_id)).status is ServiceStatus.ACTIVE
    domain = await _get(db, Domain, placed.domain_id)
    assert (domain.status, domain.registered_at, domain.expires_at) == (
        DomainStatus.ACTIVE,
        date(2028, 2, 29),
        date(2030, 2, 28),
    )
    assert domain.transfer_auth_code is None
    # Accepting is not being paid: the invoice is left to `invoices mark-paid`.
    assert (await _get(db, Invoice, placed.invoice_id)).status is InvoiceStatus.UNPAID
    [event] = await _events(db, "order.accepted")
    assert (event.credential, event.actor_id, event.account_id, event.subject_id) == (
        "system",
        None,
        placed.account.id,
        encode_id("Order", done.order.id),
    )


@pytest.mark.parametrize(
    ("end", "status", "action"),
    [
        (operations.cancel_order, OrderStatus.CANCELLED, "order.cancelled"),
        (operations.mark_order_fraud, OrderStatus.FRAUD, "order.marked_fraud"),
    ],
)
async def test_refusing_an_order_cancels_what_it_created_and_its_unpaid_invoice(
    api: Api, db: Database, settings: Settings, end: Any, status: OrderStatus, action: str
) -> None:
    placed = await _place(api, db, settings)

    await end(db, settings, number=placed.number)

    assert (await _order(db, placed.number)).status is status
    assert (await _get(db, Service, placed.service_id)).status is ServiceStatus.CANCELLED
    assert (await _get(db, Domain, placed.domain_id)).status is DomainStatus.CANCELLED
    assert (await _get(db, Invoice, placed.invoice_id)).status is InvoiceStatus.CANCELLED
    [event] = await _events(db, action)
    assert (event.credential, event.account_id) == ("system", placed.account.id)


async def test_a_refused_order_frees_its_domain_name(api: Api, db: Database, settings: Settings) -> None:
    placed = await _place(api, db, settings)
    name = (await _get(db, Domain, placed.domain_id)).name
    await operations.cancel_order(db, settings, number=placed.number)

    again = await create_domain(db, account=placed.account, name=name)

    assert again.status is DomainStatus.ACTIVE


async def test_a_paid_invoice_survives_the_cancellation_of_its_order(
    api: Api, db: Database, settings: Settings
) -> None:
    placed = await _place(api, db, settings)
    async with db.begin() as session:
        await session.execute(
            update(Invoice).where(Invoice.id == placed.invoice_id).values(status=InvoiceStatus.PAID)
        )

    done = await operations.cancel_order(db, settings, number=placed.number)

    assert done.invoice is not None
    assert done.invoice.status is InvoiceStatus.PAID
    assert (await _get(db, Invoice, placed.invoice_id)).status is InvoiceStatus.PAID


async def test_an_upgrade_order_never_touches_the_service_it_changes(
    api: Api, db: Database, settings: Settings
) -> None:
    placed = await _place(api, db, settings)
    await operations.accept_order(db, settings, number=placed.number)
    changed = await placed.client(
        CHANGE,
        {
            "input": {
                "serviceId": encode_id("Service", placed.service_id),
                "specifications": [{"key": "disk", "value": "50"}],
            }
        },
    )
    upgrade = changed.payload("changeServiceSpecifications")["order"]["number"]

    await operations.cancel_order(db, settings, number=upgrade)

    assert (await _order(db, upgrade)).status is OrderStatus.CANCELLED
    assert (await _get(db, Service, placed.service_id)).status is ServiceStatus.ACTIVE


@pytest.mark.parametrize("first", ["accept", "cancel", "mark_fraud"])
@pytest.mark.parametrize("then", ["accept", "cancel", "mark_fraud"])
async def test_only_a_pending_order_can_be_accepted_or_refused(
    api: Api, db: Database, settings: Settings, first: str, then: str
) -> None:
    placed = await _place(api, db, settings)
    commands = {
        "accept": operations.accept_order,
        "cancel": operations.cancel_order,
        "mark_fraud": operations.mark_order_fraud,
    }
    await commands[first](db, settings, number=placed.number)
    status = (await _order(db, placed.number)).status

    with pytest.raises(Rejected) as raised:
        await commands[then](db, settings, number=placed.number)

    code, message = _refusal(raised)
    assert code == "INVALID"
    assert message.startswith(f"Order {placed.number} is {status.value}; only a PENDING order")
    assert (await _order(db, placed.number)).status is status


@pytest.mark.parametrize(
    "command", [operations.accept_order, operations.cancel_order, operations.mark_order_fraud]
)
async def test_an_unknown_order_number_is_not_found(db: Database, settings: Settings, command: Any) -> None:
    with pytest.raises(Rejected) as raised:
        await command(db, settings, number="999999")

    assert _refusal(raised) == ("NOT_FOUND", "No order 999999.")


# --- services -----------------------------------------------------------------------------


async def _service(db: Database, status: ServiceStatus) -> Service:
    account = await create_account(db, owner=await create_user(db))
    return await create_service(db, account=account, status=status)


@pytest.mark.parametrize(
    ("command", "before", "after", "action"),
    [
        (operations.suspend_service, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED, "service.suspended"),
        (operations.unsuspend_service, ServiceStatus.SUSPENDED, ServiceStatus.ACTIVE, "service.unsuspended"),
        (operations.terminate_service, ServiceStatus.ACTIVE, ServiceStatus.TERMINATED, "service.terminated"),
        (
            operations.terminate_service,
            ServiceStatus.SUSPENDED,
            ServiceStatus.TERMINATED,
            "service.terminated",
        ),
    ],
)
async def test_service_transitions(
    db: Database, settings: Settings, command: Any, before: ServiceStatus, after: ServiceStatus, action: str
) -> None:
    service = await _service(db, before)

    changed = await command(db, settings, service_id=service.id)

    assert changed.status is after
    assert (await _get(db, Service, service.id)).status is after
    [event] = await _events(db, action)
    assert (event.credential, event.account_id, event.subject_id) == (
        "system",
        service.account_id,
        encode_id("Service", service.id),
    )


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (operations.suspend_service, ServiceStatus.SUSPENDED),
        (operations.suspend_service, ServiceStatus.PENDING),
        (operations.suspend_service, ServiceStatus.TERMINATED),
        (operations.unsuspend_service, ServiceStatus.ACTIVE),
        (operations.unsuspend_service, ServiceStatus.CANCELLED),
        (operations.terminate_service, ServiceStatus.PENDING),
        (operations.terminate_service, ServiceStatus.TERMINATED),
        (operations.terminate_service, ServiceStatus.CANCELLED),
    ],
)
async def test_service_transitions_from_the_wrong_state_are_refused(
    db: Database, settings: Settings, command: Any, status: ServiceStatus
) -> None:
    service = await _service(db, status)

    with pytest.raises(Rejected) as raised:
        await command(db, settings, service_id=service.id)

    code, message = _refusal(raised)
    assert code == "INVALID"
    assert message.startswith(f"The service is {status.value}; only")
    assert (await _get(db, Service, service.id)).status is status
    assert await _events(db, "service.suspended") == []


async def test_an_unknown_service_is_not_found(db: Database, settings: Settings) -> None:
    with pytest.raises(Rejected) as raised:
        await operations.suspend_service(db, settings, service_id=uuid.uuid4())

    assert _refusal(raised)[0] == "NOT_FOUND"


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(encode_id("ClientAccount", uuid.uuid4()), id="another type"),
        pytest.param("not an id", id="garbage"),
        pytest.param("x" * 10_000, id="huge"),
    ],
)
def test_the_command_line_refuses_what_is_not_a_service_id(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["services", "suspend", given])

    assert exited.value.code == 2
    assert "is not a Service ID" in capsys.readouterr().err


def test_the_command_line_reads_a_service_id() -> None:
    key = uuid.uuid4()

    args = build_parser().parse_args(["services", "suspend", encode_id("Service", key)])

    assert args.service_id == key


# --- accounts -----------------------------------------------------------------------------


async def test_a_closed_account_cannot_order(api: Api, db: Database, settings: Settings) -> None:
    placed = await _place(api, db, settings)
    account_id = encode_id("ClientAccount", placed.account.id)

    closed = await operations.close_account(db, settings, account_id=placed.account.id)
    response = await placed.client(
        PLACE_ORDER,
        {
            "input": {
                "accountId": account_id,
                "items": [{"productId": await _product(db, "webhosting-s"), "billingCycle": "MONTHLY"}],
                "idempotencyKey": "after closing",
            }
        },
    )

    assert closed.status is AccountStatus.CLOSED
    assert response.user_error_codes("placeOrder") == ["INVALID"]
    [event] = await _events(db, "account.closed")
    assert (event.credential, event.account_id) == ("system", placed.account.id)


async def test_closing_twice_or_an_unknown_account_is_refused(db: Database, settings: Settings) -> None:
    account = await create_account(db, owner=await create_user(db))
    await operations.close_account(db, settings, account_id=account.id)

    with pytest.raises(Rejected) as twice:
        await operations.close_account(db, settings, account_id=account.id)
    with pytest.raises(Rejected) as unknown:
        await operations.close_account(db, settings, account_id=uuid.uuid4())

    assert _refusal(twice) == ("INVALID", "The account is CLOSED already.")
    assert _refusal(unknown)[0] == "NOT_FOUND"
    assert len(await _events(db, "account.closed")) == 1


# --- jobs ---------------------------------------------------------------------------------


async def test_lapsed_domains_expire_unless_they_renew(db: Database, settings: Settings) -> None:
    await sync_catalogue(db)
    account = await create_account(db, owner=await create_user(db))
    today = utcnow().date()
    lapsed = await create_domain(db, account=account, expires_at=today - timedelta(days=1))
    renewing = await create_domain(db, account=account, expires_at=today - timedelta(days=1))
    due_today = await create_domain(db, account=account, expires_at=today)
    async with db.begin() as session:
        await session.execute(
            update(Domain).where(Domain.id.in_([lapsed.id, due_today.id])).values(auto_renew=False)
        )

    summary = await jobs.run_jobs(db, settings)

    assert summary.domains_expired == 1
    assert (await _get(db, Domain, lapsed.id)).status is DomainStatus.EXPIRED
    assert (await _get(db, Domain, renewing.id)).status is DomainStatus.ACTIVE
    assert (await _get(db, Domain, due_today.id)).status is DomainStatus.ACTIVE
    [event] = await _events(db, "domain.expired")
    assert (event.credential, event.subject_id) == ("system", encode_id("Domain", lapsed.id))


async def test_due_cancellations_are_carried_out(db: Database, settings: Settings) -> None:
    account = await create_account(db, owner=await create_user(db))
    today = utcnow().date()
    services = {
        name: await create_service(db, account=account, next_due_date=due)
        for name, due in [
            ("immediate", today + timedelta(days=20)),
            ("period_ended", today),
            ("period_running", today + timedelta(days=1)),
            ("not_requested", today - timedelta(days=1)),
        ]
    }
    requests = {
        "immediate": CancellationType.IMMEDIATE,
        "period_ended": CancellationType.END_OF_BILLING_PERIOD,
        "period_running": CancellationType.END_OF_BILLING_PERIOD,
    }
    async with db.begin() as session:
        for name, kind in requests.items():
            await session.execute(
                update(Service)
                .where(Service.id == services[name].id)
                .values(
                    cancellation_type=kind, cancellation_reason="Done.", cancellation_requested_at=utcnow()
                )
            )

    summary = await jobs.run_jobs(db, settings)

    assert summary.services_cancelled == 2
    statuses = {name: (await _get(db, Service, s.id)).status for name, s in services.items()}
    assert statuses == {
        "immediate": ServiceStatus.CANCELLED,
        "period_ended": ServiceStatus.CANCELLED,
        "period_running": ServiceStatus.ACTIVE,
        "not_requested": ServiceStatus.ACTIVE,
    }
    assert len(await _events(db, "service.cancelled")) == 2


async def test_old_rows_are_purged_and_live_ones_kept(api: Api, db: Database, settings: Settings) -> None:
    now = utcnow()
    placed = await _place(api, db, settings)
    user = await create_user(db)
    service = await create_service(db, account=placed.account)
    for _ in range(5):
        await session_for(db, settings, user)
    async with db.begin() as session:
        session.add(
            IdempotencyKey(
                account_id=placed.account.id,
                key="old",
                request_hash="0" * 64,
                order_id=(await _order(db, placed.number)).id,
                created_at=now - timedelta(hours=settings.idempotency_key_hours, minutes=1),
            )
        )
        sessions = list(await session.scalars(select(Session).where(Session.user_id == user.id)))
        sessions[0].expires_at = now - timedelta(days=2)
        sessions[1].revoked_at = now - timedelta(days=2)
        sessions[2].last_seen_at = now - timedelta(days=1, minutes=settings.session_idle_minutes + 1)
        sessions[3].expires_at = now - timedelta(hours=1)
        for expires_at, used_at in [
            (now - timedelta(seconds=1), None),
            (now + timedelta(seconds=30), now),
            (now + timedelta(seconds=30), None),
        ]:
            session.add(
                ServiceLogin(service_id=service.id, user_id=user.id, expires_at=expires_at, used_at=used_at)
            )
        session.add(RateLimitHit(key_hash=b"k" * 32, occurred_at=now - timedelta(days=1, minutes=1)))
        session.add(RateLimitHit(key_hash=b"k" * 32, occurred_at=now - timedelta(hours=23)))

    summary = await jobs.run_jobs(db, settings, now=now)

    assert (
        summary.idempotency_keys_purged,
        summary.sessions_purged,
        summary.service_logins_purged,
        summary.rate_limit_hits_purged,
    ) == (1, 3, 2, 1)
    async with db.read() as session:
        assert list(await session.scalars(select(IdempotencyKey.key))) == ["k"]
        kept = set(await session.scalars(select(Session.id).where(Session.user_id == user.id)))
        assert kept == {sessions[3].id, sessions[4].id}
        assert list(await session.scalars(select(ServiceLogin.used_at))) == [None]
        assert len(list(await session.scalars(select(RateLimitHit.id)))) == 1


async def test_jobs_run_is_idempotent_and_safe_to_run_twice_at_once(db: Database, settings: Settings) -> None:
    await sync_catalogue(db)
    account = await create_account(db, owner=await create_user(db))
    domain = await create_domain(db, account=account, expires_at=utcnow().date() - timedelta(days=3))
    async with db.begin() as session:
        await session.execute(update(Domain).where(Domain.id == domain.id).values(auto_renew=False))

    together = await asyncio.gather(jobs.run_jobs(db, settings), jobs.run_jobs(db, settings))
    again = await jobs.run_jobs(db, settings)

    assert sorted(s.domains_expired for s in together) == [0, 1]
    assert again.domains_expired == 0
    assert len(await _events(db, "domain.expired")) == 1


async def test_without_the_affiliate_module_its_step_is_skipped(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail as if the module were not there.
    monkeypatch.setitem(sys.modules, "resolvers.affiliates", None)

    summary = await jobs.run_jobs(db, settings)

    assert summary.commissions_cleared is None
    assert "commissions cleared: skipped" in summary.line()


async def test_the_summary_is_one_line_of_counts(db: Database, settings: Settings) -> None:
    summary = await jobs.run_jobs(db, settings)

    assert summary.line() == (
        "domains expired: 0, services cancelled: 0, commissions cleared: 0, idempotency keys purged: 0, "
        "sessions purged: 0, service logins purged: 0, rate limit hits purged: 0"
    )


# --- the real command line ----------------------------------------------------------------


async def _cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "CLIENTAREA_DATABASE_URL": database_url, "CLIENTAREA_ENV": "test"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clientarea.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_staff_accept_an_order_from_the_command_line(
    api: Api, db: Database, settings: Settings
) -> None:
    placed = await _place(api, db, settings)

    code, out, err = await _cli(settings.database_url, "orders", "accept", placed.number)
    again = await _cli(settings.database_url, "orders", "accept", placed.number)
    unknown = await _cli(settings.database_url, "orders", "accept", "999999")

    assert (code, out, err) == (
        0,
        f"order {placed.number} is ACTIVE: 1 service(s) and 1 domain(s) activated\n",
        "",
    )
    assert (await _order(db, placed.number)).status is OrderStatus.ACTIVE
    assert again == (
        1,
        "",
        f"error: Order {placed.number} is ACTIVE; only a PENDING order can be accepted.\n",
    )
    assert unknown == (1, "", "error: No order 999999.\n")
    [event] = await _events(db, "order.accepted")
    assert event.credential == "system"


async def test_staff_run_the_jobs_from_the_command_line(db: Database, settings: Settings) -> None:
    code, out, _ = await _cli(settings.database_url, "jobs", "run")

    assert code == 0
    assert out.startswith("domains expired: 0, services cancelled: 0, ")
    assert out.count("\n") == 1
