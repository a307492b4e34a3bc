"""Money rules: taxes, gap-free numbers, and issuing orders with their invoice.

Catalogue prices are net. An invoice has net lines, a subtotal, tax lines and a gross total;
amounts are rounded half-up to the cent once per tax line, never per intermediate step.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from models.accounts import ClientAccount
from models.base import utcnow, uuid7
from models.billing import Invoice, InvoiceLine, InvoiceTax, Order, OrderItem
from models.catalogue import BillingCycle
from resolvers.core.numbers import cents, next_number
from resolvers.core.validation import EU_COUNTRIES

PROVIDER_COUNTRY = "AT"
VAT_RATE = Decimal("20")
PAYMENT_TERM = timedelta(days=14)
FIRST_ORDER_NUMBER = 100_000


# How long one billing period of each cycle lasts; ONE_TIME has no period.
CYCLE_MONTHS = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMI_ANNUALLY: 6,
    BillingCycle.ANNUALLY: 12,
    BillingCycle.BIENNIALLY: 24,
    BillingCycle.TRIENNIALLY: 36,
}


@dataclass(frozen=True)
class TaxLine:
    name: str
    rate: Decimal
    amount: Decimal


def taxes_for(*, country_code: str, tax_id: str | None, subtotal: Decimal) -> list[TaxLine]:
    """Austrian VAT for Austria and EU consumers, reverse charge for EU businesses, none outside."""
    if country_code == PROVIDER_COUNTRY or (country_code in EU_COUNTRIES and not tax_id):
        return [TaxLine(f"USt {VAT_RATE:.0f} %", VAT_RATE, cents(subtotal * VAT_RATE / 100))]
    if country_code in EU_COUNTRIES:
        return [TaxLine("Reverse charge", Decimal("0"), Decimal("0.00"))]
    return [TaxLine("Not taxable in Austria (outside the EU)", Decimal("0"), Decimal("0.00"))]


@dataclass
class ItemDraft:
    """One order item as priced, before it is stored."""

    product_id: uuid.UUID
    billing_cycle: BillingCycle
    description: str
    amount: Decimal
    specifications: list[dict[str, str]] = field(default_factory=list)
    domain_name: str | None = None
    label: str | None = None
    period_years: int | None = None
    service_id: uuid.UUID | None = None
    domain_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Issued:
    order: Order
    invoice: Invoice


async def issue_order(
    session: AsyncSession,
    *,
    account: ClientAccount,
    placed_by_id: uuid.UUID,
    items: Sequence[ItemDraft],
    now: datetime | None = None,
) -> Issued:
    """Stores an order with its UNPAID invoice and numbers both (see `draft_order`)."""
    issued = await draft_order(session, account=account, placed_by_id=placed_by_id, items=items, now=now)
    await take_numbers(session, issued)
    return issued


async def draft_order(
    session: AsyncSession,
    *,
    account: ClientAccount,
    placed_by_id: uuid.UUID,
    items: Sequence[ItemDraft],
    now: datetime | None = None,
) -> Issued:
    """Stores an order, its items and its UNPAID invoice addressed to the account's billing profile
    as it is now, under provisional numbers: the unit of work must end with `take_numbers`.
    Services and domains the items refer to must already be flushed."""
    now = now or utcnow()
    subtotal = sum((item.amount for item in items), Decimal("0"))
    taxes = taxes_for(
        country_code=account.billing_country_code, tax_id=account.billing_tax_id, subtotal=subtotal
    )
    total = subtotal + sum((t.amount for t in taxes), Decimal("0"))
    order = Order(
        id=uuid7(),
        account_id=account.id,
        placed_by_id=placed_by_id,
        currency_code=account.currency_code,
        total=total,
        created_at=now,
    )
    order.number = _provisional(order.id)
    session.add(order)
    # Flushed parents first: these tables have foreign keys but no relationships to order them by.
    await session.flush()
    invoice_id = uuid7()
    session.add_all(
        OrderItem(
            order_id=order.id,
            position=position,
            product_id=item.product_id,
            billing_cycle=item.billing_cycle,
            specifications=item.specifications,
            domain_name=item.domain_name,
            label=item.label,
            period_years=item.period_years,
            amount=item.amount,
            service_id=item.service_id,
            domain_id=item.domain_id,
        )
        for position, item in enumerate(items)
    )
    invoice = Invoice(
        id=invoice_id,
        account_id=account.id,
        order_id=order.id,
        number=_provisional(invoice_id),
        bill_to_first_name=account.billing_first_name,
        bill_to_last_name=account.billing_last_name,
        bill_to_company_name=account.billing_company_name,
        bill_to_email=account.billing_email,
        bill_to_phone=account.billing_phone,
        bill_to_line1=account.billing_line1,
        bill_to_line2=account.billing_line2,
        bill_to_city=account.billing_city,
        bill_to_state=account.billing_state,
        bill_to_postal_code=account.billing_postal_code,
        bill_to_country_code=account.billing_country_code,
        bill_to_tax_id=account.billing_tax_id,
        currency_code=account.currency_code,
        subtotal=subtotal,
        total=total,
        issued_at=now,
        due_at=(now + PAYMENT_TERM).date(),
    )
    session.add(invoice)
    await session.flush()
    session.add_all(
        InvoiceLine(
            invoice_id=invoice.id, position=position, description=item.description, amount=item.amount
        )
        for position, item in enumerate(items)
    )
    session.add_all(
        InvoiceTax(invoice_id=invoice.id, position=position, name=tax.name, rate=tax.rate, amount=tax.amount)
        for position, tax in enumerate(taxes)
    )
    await session.flush()
    return Issued(order=order, invoice=invoice)


def _provisional(row_id: uuid.UUID) -> str:
    # Unique and never committed: take_numbers replaces it in the same transaction.
    return f"draft-{row_id.hex[:26]}"


# One statement takes both numbers and writes them, so the counter rows stay locked only for it and
# the commit after it, never while the rest of the order is written: orders do not queue on them.
# Both counters are locked in one order ('order' first), as every caller takes them.
_TAKE_NUMBERS_POSTGRESQL = text(
    """
    WITH taken AS (
        INSERT INTO number_sequences (name, next_value) VALUES ('order', 2), (:invoice_sequence, 2)
        ON CONFLICT (name) DO UPDATE SET next_value = number_sequences.next_value + 1
        RETURNING name, next_value - 1 AS value
    ), order_number AS (
        UPDATE orders
        SET number = (
            SELECT (value + CAST(:first_order_number AS integer))::text FROM taken WHERE name = 'order'
        )
        WHERE id = :order_id RETURNING number
    ), invoice_number AS (
        UPDATE invoices SET number = CAST(:year AS text) || '-' || (
            SELECT CASE WHEN value >= 1000000 THEN value::text ELSE lpad(value::text, 6, '0') END
            FROM taken WHERE name = :invoice_sequence
        )
        WHERE id = :invoice_id RETURNING number
    )
    SELECT (SELECT number FROM order_number), (SELECT number FROM invoice_number)
    """
)


async def take_numbers(session: AsyncSession, issued: Issued) -> None:
    """Gives a drafted order and its invoice their gap-free numbers; the last write of the unit of
    work, because the counters stay locked until it commits (a rolled-back order gives its numbers
    back, and concurrent orders take them one after the other)."""
    order, invoice = issued.order, issued.invoice
    year = invoice.issued_at.year
    if session.get_bind().dialect.name == "postgresql":
        row = (
            await session.execute(
                _TAKE_NUMBERS_POSTGRESQL,
                {
                    "invoice_sequence": f"invoice-{year}",
                    "first_order_number": FIRST_ORDER_NUMBER,
                    "order_id": order.id,
                    "invoice_id": invoice.id,
                    "year": str(year),
                },
            )
        ).one()
        set_committed_value(order, "number", row[0])
        set_committed_value(invoice, "number", row[1])
        return
    # SQLite: the unit of work holds the only write lock from its start; nothing to shorten.
    order.number = str(FIRST_ORDER_NUMBER + await next_number(session, "order"))
    invoice.number = f"{year}-{await next_number(session, f'invoice-{year}'):06d}"
    await session.flush()


def period_end(start: date, cycle_months: int) -> date:
    """The same day `cycle_months` later, clamped to the month's last day."""
    month_index = start.month - 1 + cycle_months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")
