"""Upgrades and downgrades: new specifications for a service, repriced from the catalogue and
billed at once by an order for the rest of the current billing period."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import AccountStatus, ClientAccount
from models.base import utcnow
from models.billing import Order
from models.catalogue import BillingCycle
from models.hosting import Service, ServiceStatus
from resolvers.billing.issuing import CYCLE_MONTHS, ItemDraft, draft_order, period_end, take_numbers
from resolvers.billing.order_items import SpecificationLike
from resolvers.billing.pricing import PriceList, price_lists
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.numbers import cents
from resolvers.core.permissions import require_principal
from resolvers.core.validation import Checker

CHANGEABLE = frozenset({ServiceStatus.PENDING, ServiceStatus.ACTIVE})


@dataclass(frozen=True)
class Proration:
    amount: Decimal
    days_left: int
    days_in_period: int
    period_end: date


def prorate(
    difference: Decimal, *, cycle: BillingCycle, next_due_date: date | None, today: date
) -> Proration:
    """The share of a per-period price difference that falls on the rest of the current period.

    The period ends on the next due date and began one cycle earlier. A service with no due date
    yet (not provisioned) has its whole first period ahead of it. An overdue one has no days left:
    its next period is billed at the new price anyway. Rounded half-up to the cent, once.
    """
    months = CYCLE_MONTHS[cycle]
    if next_due_date is None:
        start, end = today, period_end(today, months)
    else:
        start, end = period_end(next_due_date, -months), next_due_date
    days_in_period = (end - start).days
    days_left = min(max((end - today).days, 0), days_in_period)
    return Proration(cents(difference * days_left / days_in_period), days_left, days_in_period, end)


def _chosen(
    check: Checker, prices: PriceList, current: Sequence[dict[str, Any]], wanted: Sequence[SpecificationLike]
) -> list[dict[str, str]]:
    """The service's specifications with the wanted ones applied, one per option in catalogue order."""
    chosen = _as_dict(current)
    given: set[str] = set()
    for index, spec in enumerate(wanted):
        path = ("input", "specifications", str(index))
        option = prices.option(spec.key)
        if option is None:
            check.fail((*path, "key"), f"{prices.product.name} has no option {spec.key[:64]!r}.")
        elif spec.key in given:
            check.fail((*path, "key"), "This option is given more than once.")
        elif option.choice(spec.value) is None:
            check.fail((*path, "value"), f"Choose one of: {', '.join(c.value for c in option.choices)}.")
        else:
            chosen[spec.key] = spec.value
        given.add(spec.key)
    # An option added to the catalogue after the service was ordered takes its first choice.
    result = prices.complete(chosen)
    for kept in result:
        option = prices.option(kept["key"])
        if option is not None and option.choice(kept["value"]) is None:
            check.fail(
                ("input", "specifications"),
                f"The current {option.name} is no longer offered; choose another.",
            )
    return result


def _describe(
    prices: PriceList, service: Service, before: Sequence[dict[str, Any]], after: list[dict[str, str]]
) -> str:
    old = _as_dict(before)
    changes = []
    for spec in after:
        option = prices.option(spec["key"])
        new = option.choice(spec["value"]) if option else None
        if option is None or new is None or old.get(spec["key"]) == spec["value"]:
            continue
        was = option.choice(old.get(spec["key"], ""))
        changes.append(f"{option.name} {was.name if was else 'none'} → {new.name}")
    label = f" ({service.label})" if service.label else ""
    return f"{prices.product.name}{label}: {'; '.join(changes)}"


@dataclass(frozen=True)
class Repricing:
    specifications: list[dict[str, str]]
    recurring_amount: Decimal
    item: ItemDraft


async def reprice(
    session: AsyncSession, service: Service, wanted: Sequence[SpecificationLike], *, today: date
) -> Repricing:
    """The service's new specifications, recurring amount, and the order item that bills the change."""
    prices = (await price_lists(session, [service.product_id]))[service.product_id]
    if not prices.product.active or service.billing_cycle not in prices.prices:
        raise reject(
            "This product is no longer sold with this billing cycle; its specifications cannot change.",
            UserErrorCode.INVALID,
            "input",
            "serviceId",
        )
    check = Checker()
    specifications = _chosen(check, prices, service.specifications, wanted)
    if check.problems:
        raise Rejected(check.problems)
    if _as_dict(specifications) == _as_dict(service.specifications):
        raise reject(
            "These are the service's current specifications; nothing would change.",
            UserErrorCode.INVALID,
            "input",
            "specifications",
        )
    old_amount = service.recurring_amount
    new_amount = prices.amount(service.billing_cycle, specifications)
    share = prorate(
        new_amount - old_amount,
        cycle=service.billing_cycle,
        next_due_date=service.next_due_date,
        today=today,
    )
    kind = "Upgrade" if new_amount > old_amount else "Downgrade" if new_amount < old_amount else "Change"
    description = (
        f"{kind} {_describe(prices, service, service.specifications, specifications)}, "
        f"{share.days_left} of {share.days_in_period} days until {share.period_end.isoformat()}"
    )
    item = ItemDraft(
        product_id=service.product_id,
        billing_cycle=service.billing_cycle,
        description=description[:500],
        amount=share.amount,
        specifications=specifications,
        label=service.label,
        service_id=service.id,
    )
    return Repricing(specifications, new_amount, item)


def _as_dict(specifications: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {s["key"]: s["value"] for s in specifications}


async def change_service_specifications(
    context: Context,
    *,
    service_id: uuid.UUID,
    specifications: Sequence[SpecificationLike],
    now: datetime | None = None,
) -> tuple[Service, Order]:
    """New choices for a service, billed at once by an order for the rest of the current period
    (checked: the viewer reaches the service and may upgrade it, `SERVICE.action("upgrade")`).

    The order's one line is (new - old recurring amount) x days left / days in the period: an
    upgrade costs its share, a downgrade is credited its share as a negative line.
    """
    principal = require_principal(context)
    now = now or utcnow()
    async with context.db.begin() as session:
        service = await session.get(Service, service_id, with_for_update=True)
        if service is None:
            raise not_found("input", "serviceId")
        account = await session.get_one(ClientAccount, service.account_id)
        _ensure_changeable(account, service)
        change = await reprice(session, service, specifications, today=now.date())
        issued = await draft_order(
            session, account=account, placed_by_id=principal.user_id, items=[change.item], now=now
        )
        service.specifications = change.specifications
        service.recurring_amount = change.recurring_amount
        record(
            session,
            context,
            "order.placed",
            account_id=account.id,
            subject_id=encode_id("Order", issued.order.id),
        )
        record(
            session,
            context,
            "service.specifications_changed",
            account_id=account.id,
            subject_id=encode_id("Service", service.id),
        )
        await session.flush()
        await take_numbers(session, issued)
    context.loaders.service.clear(service.id).prime(service.id, service)
    return service, issued.order


def _ensure_changeable(account: ClientAccount, service: Service) -> None:
    if account.status is AccountStatus.CLOSED:
        raise reject("A closed account cannot order.", UserErrorCode.INVALID)
    if service.status not in CHANGEABLE:
        raise reject(
            f"A {service.status.value.lower()} service cannot change its specifications.",
            UserErrorCode.INVALID,
            "input",
            "serviceId",
        )
    if service.billing_cycle not in CYCLE_MONTHS:
        raise reject(
            "A one-time service has no billing period to change within.",
            UserErrorCode.INVALID,
            "input",
            "serviceId",
        )
