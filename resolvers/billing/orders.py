"""Placing an order: validate every item, price it, create services and domains, bill the account."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import AccountStatus, ClientAccount
from models.base import utcnow
from models.billing import IdempotencyKey, Order
from models.catalogue import BillingCycle
from models.contacts import Contact
from models.hosting import CONTACT_ROLES, Domain, DomainStatus, Service, ServiceStatus
from resolvers.billing.issuing import CYCLE_MONTHS, Issued, ItemDraft, draft_order, period_end, take_numbers
from resolvers.billing.order_items import CheckedItem, OrderItemLike, check_items
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.permissions import require_principal

MAX_ITEMS = 50


def request_fingerprint(account_id: uuid.UUID, items: list[Any]) -> str:
    """SHA-256 of the order's input in canonical form: the same input gives the same fingerprint."""

    def plain(value: Any) -> Any:
        if isinstance(value, list):
            return [plain(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in sorted(value.__dataclass_fields__)}
        if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, str):
            return value.value
        return value if value is None or isinstance(value, str | int | bool) else str(value)

    payload = orjson.dumps({"account": account_id.hex, "items": plain(items)}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class ItemKeys:
    """The IDs an order's items name, decoded (None: a well-formed ID of another type)."""

    products: list[uuid.UUID | None]
    # Per item index and role ("registrant", ...), the contacts its domain names.
    contacts: dict[tuple[int, str], uuid.UUID | None]


async def place_order(
    context: Context,
    *,
    account_id: uuid.UUID,
    items: list[OrderItemLike],
    keys: ItemKeys,
    idempotency_key: str,
) -> Order:
    """Checked: the viewer may place orders for the account."""
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 200:
        raise reject(
            "Give an idempotency key of 1 to 200 characters.",
            UserErrorCode.INVALID,
            "input",
            "idempotencyKey",
        )
    fingerprint = request_fingerprint(account_id, items)
    async with context.db.read() as session:
        replay = await _replay(session, account_id, key, fingerprint)
    if replay is not None:
        return replay
    if not items:
        raise reject("An order needs at least one item.", UserErrorCode.INVALID, "input", "items")
    if len(items) > MAX_ITEMS:
        raise reject(f"At most {MAX_ITEMS} items per order.", UserErrorCode.INVALID, "input", "items")
    try:
        async with context.db.begin() as session:
            # The key is decided before anything else: a concurrent replay waits here for the first
            # request and then answers its order, instead of finding its domain "already ordered".
            await _lock_key(session, account_id, key)
            replay = await _replay(session, account_id, key, fingerprint)
            if replay is not None:
                return replay
            account = await session.get_one(ClientAccount, account_id)
            if account.status is AccountStatus.CLOSED:
                raise reject(
                    "This account is closed and cannot order.", UserErrorCode.INVALID, "input", "accountId"
                )
            checked = await check_items(session, account_id, items, keys.products, keys.contacts)
            issued = await _store(context, session, account, checked)
            session.add(
                IdempotencyKey(
                    account_id=account_id, key=key, request_hash=fingerprint, order_id=issued.order.id
                )
            )
            await session.flush()
            await take_numbers(session, issued)
    except IntegrityError:
        # Another order for the same domain name committed while this one was being placed.
        raise reject(
            "A domain in this order was just ordered by someone else.",
            UserErrorCode.DOMAIN_UNAVAILABLE,
            "input",
            "items",
        ) from None
    return issued.order


async def _lock_key(session: AsyncSession, account_id: uuid.UUID, key: str) -> None:
    """Serialises the requests carrying one idempotency key until the first one's transaction ends.

    SQLite needs nothing more: a unit of work holds the database's only write lock from its start.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    name = hashlib.sha256(f"idempotency-key:{account_id.hex}:{key}".encode()).digest()
    await session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(name[:8], "big", signed=True))))


async def _replay(session: AsyncSession, account_id: uuid.UUID, key: str, fingerprint: str) -> Order | None:
    row = (
        await session.execute(
            select(IdempotencyKey, Order)
            .join(Order, Order.id == IdempotencyKey.order_id)
            .where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
        )
    ).first()
    if row is None:
        return None
    stored, order = row
    if stored.request_hash != fingerprint:
        raise reject(
            "This idempotency key was used for a different order.",
            UserErrorCode.IDEMPOTENCY_KEY_REUSED,
            "input",
            "idempotencyKey",
        )
    return order


async def _store(
    context: Context, session: AsyncSession, account: ClientAccount, items: list[CheckedItem]
) -> Issued:
    principal = require_principal(context)
    now = utcnow()
    primary = await session.scalar(
        select(Contact.id).where(Contact.account_id == account.id, Contact.is_primary.is_(True))
    )
    drafts: list[ItemDraft] = []
    for item in items:
        product = item.prices.product
        if item.domain_name is not None:
            drafts.append(await _domain(context, session, account, item, primary, now))
            continue
        amount = item.prices.amount(item.cycle, item.specifications)
        months = CYCLE_MONTHS.get(item.cycle)
        service = Service(
            account_id=account.id,
            product_id=product.id,
            label=item.label,
            status=ServiceStatus.PENDING,
            billing_cycle=item.cycle,
            recurring_amount=amount,
            currency_code=account.currency_code,
            specifications=item.specifications,
            next_due_date=period_end(now.date(), months) if months else None,
        )
        session.add(service)
        await session.flush()
        details = item.prices.describe(item.specifications)
        description = " - ".join(p for p in (product.name, item.label, details) if p)
        drafts.append(
            ItemDraft(
                product_id=product.id,
                billing_cycle=item.cycle,
                description=f"{description} ({item.cycle.value.lower().replace('_', '-')})",
                amount=amount,
                specifications=item.specifications,
                label=item.label,
                service_id=service.id,
            )
        )
    issued = await draft_order(
        session, account=account, placed_by_id=principal.user_id, items=drafts, now=now
    )
    record(
        session,
        context,
        "order.placed",
        account_id=account.id,
        subject_id=encode_id("Order", issued.order.id),
    )
    return issued


async def _domain(
    context: Context,
    session: AsyncSession,
    account: ClientAccount,
    item: CheckedItem,
    primary: uuid.UUID | None,
    now: datetime,
) -> ItemDraft:
    assert item.domain_name is not None
    assert item.period is not None
    assert item.contact_ids is not None
    product = item.prices.product
    registrant = item.contact_ids["registrant"] or primary
    assert registrant is not None
    roles = {role: item.contact_ids[role] or registrant for role in CONTACT_ROLES}
    transfer = item.action == "TRANSFER"
    domain = Domain(
        account_id=account.id,
        product_id=product.id,
        name=item.domain_name,
        status=DomainStatus.PENDING_TRANSFER if transfer else DomainStatus.PENDING_REGISTRATION,
        period_years=item.period,
        nameservers=item.nameservers or list(context.settings.default_nameservers),
        transfer_auth_code=item.auth_code,
        registrant_contact_id=roles["registrant"],
        admin_contact_id=roles["admin"],
        tech_contact_id=roles["tech"],
        billing_contact_id=roles["billing"],
        created_at=now,
    )
    session.add(domain)
    await session.flush()
    years = "year" if item.period == 1 else "years"
    return ItemDraft(
        product_id=product.id,
        billing_cycle=BillingCycle.ANNUALLY,
        description=f"{product.name} {item.domain_name}, {'transfer' if transfer else 'registration'}, "
        f"{item.period} {years}",
        amount=item.prices.prices[BillingCycle.ANNUALLY] * Decimal(item.period),
        domain_name=item.domain_name,
        period_years=item.period,
        domain_id=domain.id,
    )
