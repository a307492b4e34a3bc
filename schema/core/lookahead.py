"""Reads what a field selects into the plain description the look-ahead takes
(resolvers/core/lookahead.py `Selected`): field names, nested, with fragments and aliases merged.

It depends on the document alone (names, not arguments or directives), and a document is parsed
once and kept (schema/schema.py's parse cache): each field's description is made once, from its
syntax nodes, and kept for as long as they are (`_levels`), rather than converted per request
through Strawberry's `selected_fields` (every argument of the whole subtree converted too, then
merged: a quarter of a millisecond of each AccountOverview, whose connections asked twice each).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode
from strawberry.types import Info

from resolvers.core.lookahead import Selected
from resolvers.core.pagination import Page

# Descriptions kept, by the identity of the syntax nodes they were made from (held with them, so
# no other node can take their identity while they are kept). Past this many, all are dropped.
LEVELS_KEPT = 1_024
_levels: dict[tuple[int, ...], tuple[Sequence[FieldNode], Selected]] = {}


def _fields(
    selections: Iterable[SelectionNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterable[FieldNode]:
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set.selections, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set.selections, fragments)


def _merged(fields: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]) -> Selected:
    found: dict[str, list[FieldNode]] = {}
    for field in fields:
        if field.selection_set is not None:
            for child in _fields(field.selection_set.selections, fragments):
                found.setdefault(child.name.value, []).append(child)
    return {name: _merged(children, fragments) for name, children in found.items()}


def _level(info: Info[Any, Any]) -> Selected:
    # Strawberry's Info keeps graphql-core's resolve info (its own `selected_fields` reads it).
    raw = info._raw_info
    nodes = raw.field_nodes
    key = tuple(map(id, nodes))
    kept = _levels.get(key)
    if kept is not None:
        return kept[1]
    level = _merged(nodes, raw.fragments)
    if len(_levels) >= LEVELS_KEPT:
        _levels.clear()
    _levels[key] = (tuple(nodes), level)
    return level


def selected(info: Info[Any, Any], *path: str) -> Selected:
    """What is selected at `path` below the current field (e.g. "edges", "node" of a connection)."""
    level = _level(info)
    for name in path:
        level = level.get(name, {})
    return level


def nodes_ahead(info: Info[Any, Any], page: Page[Any]) -> Selected:
    """What a connection's nodes select (its look-ahead); and when the connection shows its
    `totalCount`, the page's count started now, beside the look-ahead's reads instead of after
    them (a page that holds every row needs no statement for it)."""
    level = _level(info)
    if "totalCount" in level:
        page.start_count()
    return level.get("edges", {}).get("node", {})
