"""Look-ahead at the selection: what a connection's nodes ask for, so a connection resolver can
fetch a whole level's related rows in one batch and hand its nodes plain values.

A field whose value was fetched ahead resolves synchronously; graphql-core then skips the
coroutine, the loader future and the task it would otherwise create per node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

T = TypeVar("T")


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def selected(info: Info[Any, Any], *path: str) -> dict[str, list[SelectedField]]:
    """The fields selected at `path` below the current field, by name (aliases merged)."""
    level: list[SelectedField] = list(_fields(info.selected_fields))
    for name in path:
        level = [child for field in level for child in _fields(field.selections) if child.name == name]
    found: dict[str, list[SelectedField]] = {}
    for field in level:
        for child in _fields(field.selections):
            found.setdefault(child.name, []).append(child)
    return found


def below(fields: list[SelectedField]) -> set[str]:
    """Names selected inside these fields."""
    return {child.name for field in fields for child in _fields(field.selections)}


def ready_or(value: T | None, load: Callable[[], Awaitable[T]]) -> T:
    """The value fetched ahead, or else the awaitable that loads it.

    graphql-core awaits whatever a resolver returns when it is awaitable, so one sync resolver
    serves both cases; the cast states what the field resolves to, not what this call returns.
    """
    return value if value is not None else cast(T, load())
