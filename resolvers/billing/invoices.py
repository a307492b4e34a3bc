"""Reading orders and invoices: per-request loaders and the account and cross-account listings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, select

from models.billing import Invoice, InvoiceLine, InvoiceStatus, InvoiceTax, Order, OrderItem
from resolvers.core.loaders import GroupLoader, ScopedLoader
from resolvers.core.pagination import Page, paginate
from resolvers.core.permissions import require_principal, visible_memberships
from resolvers.core.policies import INVOICE

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
    return Page(
        [(c, row[0]) for c, row in page.edges], page.has_next_page, page.has_previous_page, page.count
    )


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
    statement: Any = select(Invoice)
    if account_id is not None:
        statement = statement.where(Invoice.account_id == account_id)
    else:
        visible = visible_memberships(principal, INVOICE.view)
        statement = statement.join(visible, visible.c.account_id == Invoice.account_id)
    if account_ids is not None:
        statement = statement.where(Invoice.account_id.in_(account_ids))
    if statuses:
        statement = statement.where(Invoice.status.in_(statuses))
    page = await paginate(
        context.db,
        statement,
        keys=[Invoice.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
        descending=True,
    )
    return Page(
        [(c, row[0]) for c, row in page.edges], page.has_next_page, page.has_previous_page, page.count
    )
