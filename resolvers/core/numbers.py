"""Numbers the rules share: amounts rounded to the cent, and gap-free sequence numbers (orders,
invoices, tickets)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.billing import NumberSequence

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


async def next_number(session: AsyncSession, sequence: str) -> int:
    """The next value of a gap-free sequence, taken in the caller's transaction.

    The upsert locks the counter row until the transaction ends, so a rolled-back order gives its
    number back and concurrent orders take numbers one after the other.
    """
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement: Any = (
        insert(NumberSequence)
        .values(name=sequence, next_value=2)
        .on_conflict_do_update(
            index_elements=[NumberSequence.name],
            set_={"next_value": NumberSequence.next_value + 1},
        )
        .returning(literal_column("next_value"))
    )
    value = (await session.execute(statement)).scalar_one()
    return int(value) - 1
