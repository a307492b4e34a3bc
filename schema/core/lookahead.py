"""Reads Strawberry's selection into the plain description the look-ahead takes
(resolvers/core/lookahead.py `Selected`): field names, nested, with fragments and aliases merged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from resolvers.core.lookahead import Selected
from resolvers.core.pagination import Page


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def _merged(fields: Iterable[SelectedField]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field in fields:
        for child in _fields(field.selections):
            found.setdefault(child.name, []).append(child)
    return {name: _merged(children) for name, children in found.items()}


def selected(info: Info[Any, Any], *path: str) -> Selected:
    """What is selected at `path` below the current field (e.g. "edges", "node" of a connection)."""
    level: Selected = _merged(_fields(info.selected_fields))
    for name in path:
        level = level.get(name, {})
    return level


def nodes_ahead(info: Info[Any, Any], page: Page[Any]) -> Selected:
    """What a connection's nodes select (its look-ahead); and when the connection shows its
    `totalCount`, the page's count started now, beside the look-ahead's reads instead of after
    them (a page that holds every row needs no statement for it)."""
    level: Selected = _merged(_fields(info.selected_fields))
    if "totalCount" in level:
        page.start_count()
    return level.get("edges", {}).get("node", {})
