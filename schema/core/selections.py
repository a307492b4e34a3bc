"""A bound on the selections of a document, checked in one pass before validation.

graphql-core's rule that overlapping fields can be merged compares every pair of fields sharing a
response name in a selection set, and every pair of fragments spread into one: 495 copies of
`user { id }` (under the token limit) kept the event loop busy for half a second. Counting is
linear, so a document past these bounds is refused in well under a millisecond, and one within
them validates in a few.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
)

# The largest operation of the consumers' contract selects 67 fields.
MAX_FIELDS = 300
# One response name in one selection set (its inline fragments included): `id` under a handful
# of type conditions is normal; hundreds of copies are only a way to make validation slow.
MAX_SAME_NAME = 10
MAX_FRAGMENT_SPREADS = 50


def selection_problem(document: DocumentNode) -> str | None:
    """Why the document selects too much, or None."""
    fields = spreads = 0
    sets: list[SelectionSetNode] = [
        selection_set
        for definition in document.definitions
        if (selection_set := getattr(definition, "selection_set", None)) is not None
    ]
    while sets:
        names: dict[str, int] = {}
        pending: list[SelectionNode] = list(sets.pop().selections)
        while pending:
            selection = pending.pop()
            if isinstance(selection, FieldNode):
                fields += 1
                name = (selection.alias or selection.name).value
                names[name] = names.get(name, 0) + 1
                if fields > MAX_FIELDS:
                    return f"More than {MAX_FIELDS} field selections in one request."
                if names[name] > MAX_SAME_NAME:
                    return f"`{name}` is selected more than {MAX_SAME_NAME} times in one selection set."
                if selection.selection_set is not None:
                    sets.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.extend(selection.selection_set.selections)
            elif isinstance(selection, FragmentSpreadNode):
                spreads += 1
                if spreads > MAX_FRAGMENT_SPREADS:
                    return f"More than {MAX_FRAGMENT_SPREADS} fragment spreads in one request."
    return None
