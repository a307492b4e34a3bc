"""What the provider's staff do from the command line: accept or refuse orders, suspend, unsuspend
and terminate services, close accounts. Each function takes the database and settings, refuses an
unknown number or ID (NOT_FOUND) and a wrong state (INVALID) with a Rejected that says which, and
writes a "system" audit event in the same transaction as its change.

The periodic jobs live in resolvers/staff/jobs.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import AccountStatus, ClientAccount
from models.base import utcnow
from models.billing import Invoice, InvoiceStatus, Order, OrderItem, OrderStatus
from models.database import Database
from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from resolvers.billing.issuing import period_end
from resolvers.core.audit import record_system
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from resolvers.hosting.services import CANCELLABLE

PENDING_DOMAIN = frozenset({DomainStatus.PENDING_REGISTRATION, DomainStatus.PENDING_TRANSFER})


def _wrong_state(message: str) -> Rejected:
    return reject(message, UserErrorCode.INVALID)


def _unknown(message: str) -> Rejected:
    return reject(message, UserErrorCode.NOT_FOUND)


# --- orders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderOutcome:
    order: Order
    services: list[Service]
    domains: list[Domain]
    invoice: Invoice | None


async def _pending_order(session: AsyncSession, number: str, verb: str) -> Order:
    number = number.strip()
    order = await session.scalar(select(Order).where(Order.number == number).with_for_update())
    if order is None:
        raise _unknown(f"No order {number}.")
    if order.status is not OrderStatus.PENDING:
        raise _wrong_state(f"Order {number} is {order.status.value}; only a PENDING order can be {verb}.")
    return order


async def _created_by(session: AsyncSession, order: Order) -> tuple[list[Service], list[Domain]]:
    """The services and domains this order created, locked. An upgrade order also names its service,
    but an earlier order created that one: accepting or refusing the upgrade leaves it alone."""
    items = (
        await session.execute(
            select(OrderItem.service_id, OrderItem.domain_id).where(OrderItem.order_id == order.id)
        )
    ).all()
    service_ids = {service_id for service_id, _ in items if service_id is not None}
    domain_ids = {domain_id for _, domain_id in items if domain_id is not None}
    earlier = (
        select(OrderItem.service_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(OrderItem.service_id.in_(service_ids), Order.created_at < order.created_at)
    )
    services = await session.scalars(
        select(Service)
        .where(Service.id.in_(service_ids), Service.id.not_in(earlier))
        .order_by(Service.id)
        .with_for_update()
    )
    domains = await session.scalars(
        select(Domain).where(Domain.id.in_(domain_ids)).order_by(Domain.id).with_for_update()
    )
    return list(services), list(domains)


async def accept_order(
    db: Database, settings: Settings, *, number: str, today: date | None = None
) -> OrderOutcome:
    """PENDING → ACTIVE: its pending services become ACTIVE, its pending domains ACTIVE, registered
    today for the years ordered."""
    today = today or utcnow().date()
    async with db.begin() as session:
        order = await _pending_order(session, number, "accepted")
        services, domains = await _created_by(session, order)
        services = [s for s in services if s.status is ServiceStatus.PENDING]
        for service in services:
            service.status = ServiceStatus.ACTIVE
        domains = [d for d in domains if d.status in PENDING_DOMAIN]
        for domain in domains:
            domain.status = DomainStatus.ACTIVE
            domain.registered_at = today
            domain.expires_at = period_end(today, 12 * domain.period_years)
            # Only the registrar needed it, to carry a transfer out; that is done now.
            domain.transfer_auth_code = None
        order.status = OrderStatus.ACTIVE
        record_system(
            session, "order.accepted", account_id=order.account_id, subject_id=encode_id("Order", order.id)
        )
    return OrderOutcome(order, services, domains, None)


async def _end_order(db: Database, number: str, status: OrderStatus, action: str, verb: str) -> OrderOutcome:
    async with db.begin() as session:
        order = await _pending_order(session, number, verb)
        services, domains = await _created_by(session, order)
        services = [s for s in services if s.status in CANCELLABLE]
        for service in services:
            service.status = ServiceStatus.CANCELLED
        domains = [d for d in domains if d.status in PENDING_DOMAIN]
        for domain in domains:
            domain.status = DomainStatus.CANCELLED
            domain.transfer_auth_code = None
        invoice = await session.scalar(select(Invoice).where(Invoice.order_id == order.id).with_for_update())
        # A paid invoice stays as it is: giving the money back is `invoices refund`, a decision of its own.
        if invoice is not None and invoice.status is InvoiceStatus.UNPAID:
            invoice.status = InvoiceStatus.CANCELLED
        order.status = status
        record_system(session, action, account_id=order.account_id, subject_id=encode_id("Order", order.id))
    return OrderOutcome(order, services, domains, invoice)


async def cancel_order(db: Database, settings: Settings, *, number: str) -> OrderOutcome:
    """PENDING → CANCELLED: its services and domains are cancelled, its unpaid invoice too."""
    return await _end_order(db, number, OrderStatus.CANCELLED, "order.cancelled", "cancelled")


async def mark_order_fraud(db: Database, settings: Settings, *, number: str) -> OrderOutcome:
    """Like cancel_order, recorded as FRAUD."""
    return await _end_order(db, number, OrderStatus.FRAUD, "order.marked_fraud", "marked as fraud")


# --- services -----------------------------------------------------------------------------


async def _change_service(
    db: Database,
    service_id: uuid.UUID,
    *,
    allowed: frozenset[ServiceStatus],
    to: ServiceStatus,
    action: str,
    verb: str,
) -> Service:
    async with db.begin() as session:
        service = await session.get(Service, service_id, with_for_update=True)
        if service is None:
            raise _unknown(f"No service {encode_id('Service', service_id)}.")
        if service.status not in allowed:
            states = " or ".join(sorted(s.value for s in allowed))
            raise _wrong_state(f"The service is {service.status.value}; only {states} can be {verb}.")
        service.status = to
        record_system(
            session, action, account_id=service.account_id, subject_id=encode_id("Service", service.id)
        )
    return service


async def suspend_service(db: Database, settings: Settings, *, service_id: uuid.UUID) -> Service:
    return await _change_service(
        db,
        service_id,
        allowed=frozenset({ServiceStatus.ACTIVE}),
        to=ServiceStatus.SUSPENDED,
        action="service.suspended",
        verb="suspended",
    )


async def unsuspend_service(db: Database, settings: Settings, *, service_id: uuid.UUID) -> Service:
    return await _change_service(
        db,
        service_id,
        allowed=frozenset({ServiceStatus.SUSPENDED}),
        to=ServiceStatus.ACTIVE,
        action="service.unsuspended",
        verb="unsuspended",
    )


async def terminate_service(db: Database, settings: Settings, *, service_id: uuid.UUID) -> Service:
    """A provisioned service ends for good; a PENDING one is refused (cancel its order instead)."""
    return await _change_service(
        db,
        service_id,
        allowed=frozenset({ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED}),
        to=ServiceStatus.TERMINATED,
        action="service.terminated",
        verb="terminated",
    )


# --- accounts -----------------------------------------------------------------------------


async def close_account(db: Database, settings: Settings, *, account_id: uuid.UUID) -> ClientAccount:
    """ACTIVE → CLOSED: the account can no longer order; what it holds is left to the other commands."""
    async with db.begin() as session:
        account = await session.get(ClientAccount, account_id, with_for_update=True)
        if account is None:
            raise _unknown(f"No account {encode_id('ClientAccount', account_id)}.")
        if account.status is not AccountStatus.ACTIVE:
            raise _wrong_state(f"The account is {account.status.value} already.")
        account.status = AccountStatus.CLOSED
        record_system(
            session,
            "account.closed",
            account_id=account.id,
            subject_id=encode_id("ClientAccount", account.id),
        )
    return account
