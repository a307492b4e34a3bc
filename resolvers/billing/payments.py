"""Payments and refunds of invoices, as the provider's staff (or the payment provider's webhook)
report them: paying online is the payment provider's business, outside this server."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import Invoice, InvoiceStatus
from models.database import Database
from resolvers.affiliates import record_commissions, void_pending_commissions
from resolvers.core.audit import record_system
from resolvers.core.errors import UserErrorCode, reject
from resolvers.core.ids import encode_id

if TYPE_CHECKING:
    from resolvers.core.settings import Settings


async def _invoice(session: AsyncSession, number: str) -> Invoice:
    invoice = await session.scalar(select(Invoice).where(Invoice.number == number.strip()).with_for_update())
    if invoice is None:
        raise reject(f"No invoice {number}.", UserErrorCode.NOT_FOUND)
    return invoice


async def mark_invoice_paid(
    db: Database, settings: Settings, *, number: str, paid_at: datetime | None = None
) -> Invoice:
    """An UNPAID invoice becomes PAID; a referred account's affiliate earns its commission in the
    same transaction. Any other status is refused, so a second report earns nothing twice."""
    if paid_at is not None and paid_at.tzinfo is None:
        raise reject("Give the payment time with a timezone.", UserErrorCode.INVALID)
    async with db.begin() as session:
        invoice = await _invoice(session, number)
        if invoice.status is not InvoiceStatus.UNPAID:
            raise reject(
                f"Invoice {invoice.number} is {invoice.status.value}; only an UNPAID invoice can be "
                "marked paid.",
                UserErrorCode.INVALID,
            )
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = paid_at or utcnow()
        record_system(
            session,
            "invoice.marked_paid",
            account_id=invoice.account_id,
            subject_id=encode_id("Invoice", invoice.id),
        )
        await session.flush()
        await record_commissions(session, invoice=invoice, settings=settings)
    return invoice


async def refund_invoice(db: Database, settings: Settings, *, number: str) -> Invoice:
    """A PAID invoice becomes REFUNDED and the commission it earned, while still held, is void."""
    async with db.begin() as session:
        invoice = await _invoice(session, number)
        if invoice.status is not InvoiceStatus.PAID:
            raise reject(
                f"Invoice {invoice.number} is {invoice.status.value}; only a PAID invoice can be refunded.",
                UserErrorCode.INVALID,
            )
        invoice.status = InvoiceStatus.REFUNDED
        record_system(
            session,
            "invoice.refunded",
            account_id=invoice.account_id,
            subject_id=encode_id("Invoice", invoice.id),
        )
        await void_pending_commissions(session, invoice_id=invoice.id)
    return invoice
