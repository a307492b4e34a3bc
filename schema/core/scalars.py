"""The custom scalars as the contract describes them: DateTime always in UTC with `Z`, Date as a
calendar date, Decimal as a string; each with its description and, where one exists, its spec."""

from __future__ import annotations

import decimal
from datetime import UTC, date, datetime

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

DATE_TIME_SPEC = "https://scalars.graphql.org/andimarek/date-time.html"
DATE_SPEC = "https://scalars.graphql.org/andimarek/local-date.html"
# Longer than any ISO-8601 form of an instant; longer input is not worth parsing.
_MAX_TEXT = 64


def _text(value: object, kind: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise StrawberryInputCoercionError(f"{kind} must be an ISO-8601 string.")
    return value


def serialize_date_time(value: datetime) -> str:
    """UTC, `Z` for the offset: one form for every instant, whatever the database handed back
    (SQLite's values are UTC already; a naive value is one of them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_date_time(value: object) -> datetime:
    """An instant with its offset, normalised to UTC. One without an offset is ambiguous; it is
    passed on as it is, for the mutation to refuse on its field with the input's other problems."""
    text = _text(value, "DateTime")
    try:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise StrawberryInputCoercionError(f"Not an ISO-8601 instant: {text!r}.") from None


def parse_date(value: object) -> date:
    text = _text(value, "Date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StrawberryInputCoercionError(f"Not an ISO-8601 date (YYYY-MM-DD): {text!r}.") from None


def parse_decimal(value: object) -> decimal.Decimal:
    # A string only: a JSON float has already lost the exact amount the client meant.
    text = _text(value, "Decimal")
    try:
        parsed = decimal.Decimal(text)
    except decimal.DecimalException:
        raise StrawberryInputCoercionError(f"Not a decimal amount: {text!r}.") from None
    if not parsed.is_finite():
        raise StrawberryInputCoercionError(f"Not a decimal amount: {text!r}.")
    return parsed


DateTimeScalar = ScalarDefinition(
    name="DateTime",
    description=(
        "An ISO-8601 instant with timezone, e.g. 2026-11-26T18:00:00Z. Always written in UTC with "
        "`Z`; an input with another offset (2026-11-26T19:00:00+01:00) means the same instant, and "
        "one without an offset is refused."
    ),
    specified_by_url=DATE_TIME_SPEC,
    serialize=serialize_date_time,
    parse_value=parse_date_time,
    parse_literal=None,
    origin=datetime,
)
DateScalar = ScalarDefinition(
    name="Date",
    description="An ISO-8601 calendar date, e.g. 2026-12-31.",
    specified_by_url=DATE_SPEC,
    serialize=date.isoformat,
    parse_value=parse_date,
    parse_literal=None,
    origin=date,
)
DecimalScalar = ScalarDefinition(
    name="Decimal",
    description='A decimal amount as a string, e.g. "12.50". Never a float.',
    specified_by_url=None,
    serialize=str,
    parse_value=parse_decimal,
    parse_literal=None,
    origin=decimal.Decimal,
)

SCALARS: dict[object, ScalarDefinition] = {
    datetime: DateTimeScalar,
    date: DateScalar,
    decimal.Decimal: DecimalScalar,
}
