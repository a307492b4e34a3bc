"""Declarative base, deterministic constraint names and the column types every model shares."""

from __future__ import annotations

import os
import time
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, ClassVar

from sqlalchemy import Column, DateTime, MetaData, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): keys sort by creation, which keyset pages use."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores and returns timezone-aware UTC datetimes; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """The stored timestamp, aware and in UTC: after the driver's own reading (SQLite's text),
        in one call per value rather than TypeDecorator's two (a page of rows reads a few hundred
        timestamps); a value already in UTC (asyncpg's) is returned as it is."""
        read = self.impl_instance.result_processor(dialect, coltype)
        if read is None:

            def process(value: datetime | None) -> datetime | None:
                if value is None or value.tzinfo is UTC:
                    return value
                return value.astimezone(UTC)

            return process

        def process_read(value: Any) -> datetime | None:
            if value is None:
                return None
            made: datetime = read(value)  # type: ignore[assignment]  # the driver read a timestamp
            return made.replace(tzinfo=UTC) if made.tzinfo is None else made.astimezone(UTC)

        return process_read


_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def _uuid_from_hex(value: str | None) -> uuid.UUID | None:
    """What `uuid.UUID(value)` returns for the 32 hex digits a non-native UUID column stores, made
    in one step: `UUID.__init__` first parses every spelling a UUID may be written in, and a page
    of rows makes several hundred of them."""
    if value is None:
        return None
    if len(value) != 32:
        return uuid.UUID(value)
    made = _new(uuid.UUID)
    _set(made, "int", int(value, 16))
    _set(made, "is_safe", _UNKNOWN)
    return made


class HexUuid(Uuid[uuid.UUID]):
    """`Uuid`, read faster where the database stores it as text (SQLite); the same type in DDL."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.supports_native_uuid and self.native_uuid:
            return super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        return _uuid_from_hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), uuid.UUID: HexUuid()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def columns_of(model: Any) -> tuple[Column[Any], ...]:
    """The table's columns of `model`, to read its rows as stored (`stored`) rather than as entities."""
    return tuple(model.__table__.c)


@cache
def stored(model: Any) -> Callable[[Iterable[Any]], Any]:
    """Makes a row of `model` as stored from its columns' values (in `columns_of` order): a named
    tuple, read like the entity (`row.name`, `row.account_id`; every mapped attribute of ours is
    named as its column and none is a relationship).

    The loaders by key and the pages of accounts, services and domains read rows this way: they
    are shown, never changed (a change reads its entity afresh, locked, in `Database.begin`).
    Measured on a page of 100 domains: reading them as entities took 2.0 ms against 1.3 ms as rows
    (no instance state, identity map or instrumented attributes), and a named tuple's attribute
    reads in about 40 ns where an entity's takes 240 ns and SQLAlchemy's own row's 360 ns."""
    kind = namedtuple(f"Stored{model.__name__}", [column.name for column in model.__table__.c])  # type: ignore[misc]
    return partial(tuple.__new__, kind)


@cache
def stored_then_rest(model: Any) -> Callable[[Sequence[Any]], tuple[Any, Sequence[Any]]]:
    """Splits a row whose first columns are `model`'s (`columns_of`): the stored row, and the
    values selected after them (a membership's, a joined row's)."""
    width, make = len(model.__table__.c), stored(model)

    def split(row: Sequence[Any]) -> tuple[Any, Sequence[Any]]:
        return make(row[:width]), row[width:]

    return split
