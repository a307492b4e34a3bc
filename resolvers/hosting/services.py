"""Services: listing them across the viewer's accounts, and requesting their cancellation.

Changing a service's specifications lives in resolvers/hosting/upgrades.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam

from models.base import columns_of, stored, stored_then_rest, utcnow
from models.catalogue import Product, ProductType
from models.hosting import CancellationType, Service, ServiceStatus
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.pagination import Page, paginate
from resolvers.core.permissions import STATEMENTS_KEPT, require_principal
from resolvers.core.policies import SERVICE
from resolvers.core.principal import Principal
from resolvers.core.reach import scoped_list
from resolvers.core.validation import Checker

CANCELLABLE = frozenset({ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED})
MAX_REASON_LENGTH = 1000
# A cancellation reason may span lines; other control characters have no place in it.
_REASON_WHITESPACE = frozenset("\n\r\t")


@dataclass(frozen=True)
class ServiceQuery:
    """A decoded ServiceFilter; None means "any"."""

    account_ids: list[uuid.UUID] | None = None
    statuses: list[ServiceStatus] | None = None
    product_type: ProductType | None = None


def service_query(
    *,
    account_ids: Sequence[uuid.UUID] | None = None,
    statuses: Sequence[ServiceStatus] | None = None,
    product_type: ProductType | None = None,
) -> ServiceQuery:
    return ServiceQuery(
        account_ids=None if account_ids is None else list(account_ids),
        statuses=None if statuses is None else list(statuses),
        product_type=product_type,
    )


async def viewer_services(
    context: Context, *, first: int | None, after: str | None, query: ServiceQuery
) -> Page[Service]:
    """Services in every account where the viewer (narrowed by a token) holds VIEW_SERVICES."""
    return await _page(context, query, account_id=None, first=first, after=after)


async def account_services(
    context: Context, *, account_id: uuid.UUID, first: int | None, after: str | None, query: ServiceQuery
) -> Page[Service]:
    return await _page(context, query, account_id=account_id, first=first, after=after)


async def _page(
    context: Context,
    query: ServiceQuery,
    *,
    account_id: uuid.UUID | None,
    first: int | None,
    after: str | None,
) -> Page[Service]:
    principal = require_principal(context)
    values = {
        "account_id": account_id,
        "account_ids": query.account_ids,
        "statuses": query.statuses,
        "product_type": query.product_type,
    }
    given = {name: value for name, value in values.items() if value is not None}
    # uuid7 keys sort by creation: a page boundary stays put while services are added.
    page = await paginate(
        context.db,
        _services(principal, frozenset(given)),
        keys=[Service.id],
        key_of=lambda row: (row.id,),
        first=first,
        after=after,
        values=given,
        # Every service has its product: counting them needs no join to the catalogue, unless the
        # product's type narrows them.
        count_of=None if "product_type" in given else _counted(principal, frozenset(given)),
    )
    # Each row holds the service's columns (`columns_of`), then its product's.
    split, make_product = stored_then_rest(Service), stored(Product)
    products = context.loaders.catalogue.product
    edges = []
    for cursor, row in page.edges:
        service, rest = split(row)
        product = make_product(rest)
        context.loaders.service.prime(service.id, service)
        products.prime(product.id, product)
        edges.append((cursor, service))
    return page.with_edges(edges)


@lru_cache(maxsize=STATEMENTS_KEPT)
def _services(principal: Principal, given: frozenset[str]) -> Select[Any]:
    """The viewer's services with each one's product, narrowed by the filters `given` (bound by
    those names when it runs). The product comes in the service's row (the catalogue is public):
    a page that shows it needs no statement of its own, and the type filter reads it there."""
    statement = (
        scoped_list(principal, Service, "service", SERVICE.view, given)
        .add_columns(*columns_of(Product))
        .join(Product, Product.id == Service.product_id)
    )
    if "product_type" in given:
        statement = statement.where(Product.type == bindparam("product_type"))
    return statement


@lru_cache(maxsize=STATEMENTS_KEPT)
def _counted(principal: Principal, given: frozenset[str]) -> Select[Any]:
    """The viewer's services as `_services` reads them, without their products: what its count
    counts (at 10,000 accounts the join to the catalogue was a sixth of it)."""
    return scoped_list(principal, Service, "service", SERVICE.view, given)


def _reason(check: Checker, value: str) -> str:
    cleaned = value.strip()
    path = ("input", "reason")
    if not cleaned:
        check.fail(path, "This field is required.")
    elif len(cleaned) > MAX_REASON_LENGTH:
        check.fail(path, f"At most {MAX_REASON_LENGTH} characters.")
    elif any(ord(ch) < 32 and ch not in _REASON_WHITESPACE for ch in cleaned):
        check.fail(path, "Control characters are not allowed.")
    return cleaned


async def request_service_cancellation(
    context: Context,
    *,
    service_id: uuid.UUID,
    cancellation_type: CancellationType,
    reason: str,
    now: datetime | None = None,
) -> Service:
    """Records the request; the operator or the periodic job carries it out later (checked: the
    viewer reaches the service and may ask for its cancellation, `SERVICE.action("cancel")`)."""
    principal = require_principal(context)
    check = Checker()
    reason = _reason(check, reason)
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        service = await session.get(Service, service_id, with_for_update=True)
        if service is None:
            raise not_found("input", "serviceId")
        if service.status not in CANCELLABLE:
            raise reject(
                f"A {service.status.value.lower()} service cannot be cancelled.",
                UserErrorCode.INVALID,
                "input",
                "serviceId",
            )
        if service.cancellation_type is not None:
            raise reject(
                "The service already has an open cancellation request.",
                UserErrorCode.INVALID,
                "input",
                "serviceId",
            )
        service.cancellation_type = cancellation_type
        service.cancellation_reason = reason
        service.cancellation_requested_by_id = principal.user_id
        service.cancellation_requested_at = now or utcnow()
        record(
            session,
            context,
            "service.cancellation_requested",
            account_id=service.account_id,
            subject_id=encode_id("Service", service.id),
        )
    context.loaders.service.clear(service.id).prime(service.id, service)
    return service
