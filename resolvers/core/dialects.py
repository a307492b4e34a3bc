"""SQL constructs written differently per database: each says what it means once, and compiles
to what that database plans well (`compiles` per dialect)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal


class AmongKeys(ColumnElement[bool]):
    """SQL: `column` is one of a batch's keys, bound as `keys` when the statement runs
    (`{"keys": [...]}`), so a loader's statement is built once, per viewer where it depends on
    one, not per batch.

    On PostgreSQL one array parameter (`= ANY ($1)`): the same text for any number of keys, so
    asyncpg prepares it once per connection, where `IN` would be written out anew for each batch
    (a parameter per key) and prepared again for each new batch size. Elsewhere `IN`."""

    inherit_cache = True
    # A condition in itself: without this, a database with no boolean type (SQLite) is sent
    # `(id IN (...)) = 1`, which it cannot look up in an index, and scans the whole table.
    _is_implicitly_boolean = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012
    type = Boolean()

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column


def among_keys(column: Any) -> ColumnElement[bool]:
    return AmongKeys(column)


@compiles(AmongKeys)
def _in_keys(element: AmongKeys, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(bindparam("keys", expanding=True)), **kw))


@compiles(AmongKeys, "postgresql")
def _any_of_keys(element: AmongKeys, compiler: Any, **kw: Any) -> str:
    keys = bindparam("keys", type_=postgresql.ARRAY(element.column.type))
    return f"{compiler.process(element.column, **kw)} = ANY ({compiler.process(keys, **kw)})"


class NotAmong(ColumnElement[bool]):
    """SQL: `column` is none of the values `among` selects (uncorrelated, non-null values).

    On PostgreSQL an array read once before the statement runs: as `NOT IN (subquery)` the
    planner charged building its hash anew each time a membership is probed, so for an agency it
    never chose to walk a list in key order probing the viewer's membership of each row (0.2 ms
    for a page of 100 at 1,000 accounts), and sorted the agency's every row instead (1.9 ms)."""

    inherit_cache = True
    _is_implicitly_boolean = True  # as AmongKeys'
    _traverse_internals = [  # noqa: RUF012
        ("column", InternalTraversal.dp_clauseelement),
        ("among", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], among: Select[Any]) -> None:
        self.column = column
        self.among = among


@compiles(NotAmong)
def _not_among(element: NotAmong, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.not_in(element.among), **kw))


@compiles(NotAmong, "postgresql")
def _not_among_postgresql(element: NotAmong, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} <> ALL (ARRAY{compiler.process(element.among.scalar_subquery(), **kw)})"


class NotIndexed(ColumnElement[Any]):
    """A column SQLite may not use an index for (its unary `+`); the column itself elsewhere."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(NotIndexed)
def _not_indexed(element: NotIndexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(NotIndexed, "sqlite")
def _not_indexed_sqlite(element: NotIndexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))
