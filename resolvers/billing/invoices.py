"""Reading orders and invoices: per-request loaders and the account and cross-account listings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, select

from models.base import columns_of, stored
from models.billing import Invoice, InvoiceLine, InvoiceStatus, InvoiceTax, Order, OrderItem
from resolvers.core.loaders import GroupLoader, ScopedLoader
from resolvers.core.pagination import Page, bound_filters, paginate
from resolvers.core.permissions import STATEMENTS_KEPT, require_principal, visible_memberships
from resolvers.core.policies import INVOICE
from resolvers.core.principal import Principal

if TYPE_CHECKING:
    from resolvers.core.context import Context

R = TypeVar("R", OrderItem, InvoiceLine, InvoiceTax)


class _ChildrenLoader(GroupLoader[uuid.UUID, R]):
    """The rows of one child table per parent id, in their stored order, in one statement."""

    model: type[R]
    parent: str

    def statement(self, keys: Sequence[uuid.UUID]) -> Select[Any]:
        return (
            select(self.model).where(getattr(self.model, self.parent).in_(keys)).order_by(self.model.position)
        )

    def owner(self, row: R) -> uuid.UUID:
        return getattr(row, self.parent)  # type: ignore[no-any-return]


class ItemsByOrderIdLoader(_ChildrenLoader[OrderItem]):
    model = OrderItem
    parent = "order_id"


class LinesByInvoiceIdLoader(_ChildrenLoader[InvoiceLine]):
    model = InvoiceLine
    parent = "invoice_id"


class TaxesByInvoiceIdLoader(_ChildrenLoader[InvoiceTax]):
    model = InvoiceTax
    parent = "invoice_id"


class InvoiceByOrderIdLoader(ScopedLoader[Invoice]):
    model = Invoice
    key = "order_id"


class OrderByIdLoader(ScopedLoader[Order]):
    model = Order


class InvoiceByIdLoader(ScopedLoader[Invoice]):
    model = Invoice


class BillingLoaders:
    def __init__(self, context: Context) -> None:
        self.order = OrderByIdLoader(context)
        self.invoice = InvoiceByIdLoader(context)
        self.items = ItemsByOrderIdLoader(context)
        self.invoice_of_order = InvoiceByOrderIdLoader(context)
        self.lines = LinesByInvoiceIdLoader(context)
        self.taxes = TaxesByInvoiceIdLoader(context)


async def account_orders(
    context: Context, *, account_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Any]:
    """The account's orders, newest first."""
    page = await paginate(
        context.db,
        select(Order).where(Order.account_id == account_id),
        keys=[Order.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
        descending=True,
    )
    return page.map(lambda row: row[0])


async def invoices(
    context: Context,
    *,
    account_id: uuid.UUID | None,
    first: int | None,
    after: str | None,
    account_ids: list[uuid.UUID] | None = None,
    statuses: list[InvoiceStatus] | None = None,
) -> Page[Any]:
    """Invoices, newest first: of one account, or of every account where the viewer holds
    VIEW_INVOICES (decided in SQL through the viewer's memberships)."""
    principal = require_principal(context)
    values = {"account_id": account_id, "account_ids": account_ids, "statuses": statuses or None}
    given = {name: value for name, value in values.items() if value is not None}
    # One account's invoices: its access was checked before; otherwise the viewer's memberships.
    page = await paginate(
        context.db,
        _invoices(None if account_id is not None else principal, frozenset(given)),
        keys=[Invoice.id],
        key_of=lambda row: (row.id,),
        first=first,
        after=after,
        descending=True,
        values=given,
    )
    return page.map(stored(Invoice))


@lru_cache(maxsize=STATEMENTS_KEPT)
def _invoices(viewer: Principal | None, given: frozenset[str]) -> Select[Any]:
    """Invoices of the accounts where `viewer` may see them (of any account without a viewer),
    narrowed by the filters `given` (bound by those names when it runs)."""
    statement: Select[Any] = select(*columns_of(Invoice))
    if viewer is not None:
        visible = visible_memberships(viewer, INVOICE.view)
        statement = statement.join(visible, visible.c.account_id == Invoice.account_id)
    return bound_filters(statement, Invoice, given)
