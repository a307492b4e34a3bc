"""Keyset (cursor) pagination over SQL: stable under inserts, one statement a page."""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Integer, Select, Subquery, bindparam, func, inspect, select, tuple_
from sqlalchemy.types import TypeEngine

from models.database import Database
from resolvers.core.errors import BadUserInput
from resolvers.core.permissions import STATEMENTS_KEPT

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass
class Page(Generic[T]):
    edges: list[tuple[str, T]]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]]
    # Starts the count's statement (when it needs one) without waiting for it.
    start_count: Callable[[], None]

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each row converted, e.g. a result row to the entity it holds."""
        return self.with_edges([(cursor, convert(row)) for cursor, row in self.edges])

    def with_edges(self, edges: list[tuple[str, U]]) -> Page[U]:
        """The same page (position, count) holding `edges`: the same rows made into something
        else, each under its cursor. A page rebuilt by hand would drop `start_count`, and its
        count would then start only when awaited, after everything else the request reads."""
        return Page(edges, self.has_next_page, self.has_previous_page, self.count, self.start_count)

    @property
    def start_cursor(self) -> str | None:
        return self.edges[0][0] if self.edges else None

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1][0] if self.edges else None


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE_SIZE}.")
    return first


def _encode_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# A cursor is the caller's input: every value is checked against its key's column before it reaches
# SQL, where a wrong type or an out-of-range integer would fail as a database error.
_INT_BITS = {"BigInteger": 64, "SmallInteger": 16}
_MAX_TEXT_KEY = 1_000
_MAX_CURSOR_LENGTH = 4_000


def _decode_value(raw: Any, sql_type: TypeEngine[Any]) -> Any:
    python_type = sql_type.python_type
    if python_type is uuid.UUID:
        if not isinstance(raw, str) or len(raw) != 32:
            raise ValueError(raw)
        return uuid.UUID(hex=raw)
    if python_type is datetime:
        if not isinstance(raw, str) or len(raw) > 40:
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError(raw)
        return value
    if python_type is int:
        bits = _INT_BITS.get(type(sql_type).__name__, 32)
        if type(raw) is not int or not -(2 ** (bits - 1)) <= raw < 2 ** (bits - 1):
            raise ValueError(raw)
        return raw
    if python_type is str:
        if not isinstance(raw, str) or len(raw) > _MAX_TEXT_KEY or "\x00" in raw:
            raise ValueError(raw)
        return raw
    raise ValueError(raw)


def encode_cursor(values: Sequence[Any]) -> str:
    payload = orjson.dumps([_encode_value(v) for v in values])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[TypeEngine[Any]]) -> list[Any]:
    """The key values of a cursor, each of its column's type; BAD_USER_INPUT for anything else."""
    try:
        if len(cursor) > _MAX_CURSOR_LENGTH:
            raise ValueError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError(cursor)
        return [_decode_value(value, kind) for value, kind in zip(raw, types, strict=True)]
    except (ValueError, TypeError, UnicodeError, binascii.Error, orjson.JSONDecodeError):
        raise BadUserInput("Invalid cursor.") from None


# Bound when a page's statement runs: its size (one more row tells whether another page follows)
# and the cursor's key values.
_LIMIT = "page_limit"


def _after(index: int) -> str:
    return f"page_after_{index}"


# What a page's rows bring along (`paginate`'s `around`): a statement over the page (ordered and
# limited, as a subquery) selecting its columns first, then those of rows joined to each of its.
Around = Callable[[Subquery], Select[Any]]


@lru_cache(maxsize=STATEMENTS_KEPT)
def _page_statement(
    statement: Select[Any], keys: tuple[Any, ...], after: bool, descending: bool, around: Around | None = None
) -> Select[Any]:
    """`statement` ordered by `keys`, limited, and past a cursor if `after`; its values bound
    when it runs. Kept per statement: a statement its caller keeps (built once per viewer and
    shape) is ordered, limited and given its SQLAlchemy cache key once, not per request."""
    page_statement = statement
    if after:
        position = tuple_(*keys)
        bound = tuple_(*(bindparam(_after(i), type_=key.type) for i, key in enumerate(keys)))
        page_statement = page_statement.where(position < bound if descending else position > bound)
    order = [key.desc() for key in keys] if descending else list(keys)
    page_statement = page_statement.order_by(*order).limit(bindparam(_LIMIT, type_=Integer))
    if around is None:
        return page_statement
    rows = page_statement.subquery("page")
    columns = [rows.c[key.key] for key in keys]
    return around(rows).order_by(*([column.desc() for column in columns] if descending else columns))


@lru_cache(maxsize=STATEMENTS_KEPT)
def _selects_columns(statement: Select[Any]) -> bool:
    """Whether `statement` selects only columns, no entity: its rows are plain either way, and it
    is read past the ORM (`Database.rows`)."""
    return not any(_is_entity(description["expr"]) for description in statement.column_descriptions)


def _is_entity(expression: Any) -> bool:
    found = inspect(expression, raiseerr=False)
    return bool(getattr(found, "is_mapper", False) or getattr(found, "is_aliased_class", False))


@lru_cache(maxsize=STATEMENTS_KEPT)
def _count_statement(statement: Select[Any]) -> Select[Any]:
    return select(func.count()).select_from(statement.order_by(None).subquery())


def bound_filters(statement: Select[Any], model: Any, given: frozenset[str]) -> Select[Any]:
    """`statement` narrowed by the list filters named in `given`, their values bound by those
    names when it runs: `account_id` (one account), `account_ids` and `statuses` (any of them)."""
    if "account_id" in given:
        statement = statement.where(model.account_id == bindparam("account_id"))
    if "account_ids" in given:
        statement = statement.where(model.account_id.in_(bindparam("account_ids", expanding=True)))
    if "statuses" in given:
        statement = statement.where(model.status.in_(bindparam("statuses", expanding=True)))
    return statement


async def paginate(
    db: Database,
    statement: Select[Any],
    *,
    keys: Sequence[Any],
    key_of: Callable[[Any], Sequence[Any]],
    first: int | None,
    after: str | None,
    descending: bool = False,
    values: Mapping[str, Any] | None = None,
    around: Around | None = None,
    count_of: Select[Any] | None = None,
) -> Page[Any]:
    """One page of `statement`, ordered by `keys` (unique together), starting after `after`.

    `key_of` gives a row's values for `keys`; rows are what the session's execute() yields.
    `values` are those of the statement's bound parameters: a statement built once with them
    (rather than with the values written in) is reused as it is. `around` brings rows along with
    the page's (`Around`), joined to the page once it is cut, not to every row it was cut from; the
    count counts `statement`'s rows. Keep the function (one per shape): it keys the kept statement.
    The count (`Page.count`) is a statement of its own only when there is more than one page: one
    with LIMIT stops at the page's end, where a count along the same rows (a window) would read
    them all, and the planner, costing it as though the LIMIT stopped it early, joins them row by
    row. `count_of`: the statement the count counts, where `statement` joins rows that cannot change
    how many there are (a service's product); by default `statement`.
    """
    size = page_size(first)
    parameters = {**(values or {}), _LIMIT: size + 1}
    if after is not None:
        position = decode_cursor(after, [key.type for key in keys])
        parameters.update({_after(i): value for i, value in enumerate(position)})
    page_statement = _page_statement(statement, tuple(keys), after is not None, descending, around)

    rows: list[Any] = []
    if size and _selects_columns(page_statement):
        rows = list(await db.rows(page_statement, parameters))
    elif size:
        async with db.read() as session:
            rows = list((await session.execute(page_statement, parameters)).all())
    # A first page that holds every row is the count: no statement for it.
    whole = after is None and size > 0 and len(rows) <= size

    counting: asyncio.Future[int] | None = None

    async def counted() -> int:
        return int(
            (await db.rows(_count_statement(statement if count_of is None else count_of), values))[0][0]
        )

    def start_count() -> None:
        # A connection that will show its count starts it here, so the statement runs beside the
        # reads of the page's related rows rather than after them.
        nonlocal counting
        if not whole and counting is None:
            counting = asyncio.ensure_future(counted())
            counting.add_done_callback(_observed)

    async def count() -> int:
        if whole:
            return len(rows)
        start_count()
        assert counting is not None
        return await counting

    visible = rows[:size]
    return Page(
        edges=[(encode_cursor(key_of(row)), row) for row in visible],
        has_next_page=len(rows) > size,
        has_previous_page=after is not None,
        count=count,
        start_count=start_count,
    )


def _observed(counting: asyncio.Future[int]) -> None:
    """A count nobody awaited (the request failed first) still has its error looked at, so it is
    not reported as never retrieved; whoever awaits it gets the error as it is."""
    if not counting.cancelled():
        counting.exception()
