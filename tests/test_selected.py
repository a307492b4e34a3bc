"""What a field selects, as the look-ahead reads it (schema/core/lookahead.py): names, with
fragments and aliases merged, made once per document and never mixed up between documents."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.core.lookahead import Selected
from schema.core.lookahead import selected

seen: list[Selected] = []


@strawberry.type
class Leaf:
    name: str = "leaf"
    size: int = 1


@strawberry.type
class Branch:
    leaf: Leaf = strawberry.field(default_factory=Leaf)
    other: Leaf = strawberry.field(default_factory=Leaf)


@strawberry.type
class Query:
    @strawberry.field
    def branch(self, info: Info[Any, Any]) -> Branch:
        seen.append(selected(info))
        return Branch()


schema = strawberry.Schema(query=Query)


def run(document: str) -> Selected:
    seen.clear()
    result = schema.execute_sync(document)
    assert result.errors is None, result.errors
    (level,) = seen
    return level


def test_fragments_and_aliases_merge_into_names() -> None:
    level = run(
        """
        query { branch { first: leaf { name } ... on Branch { leaf { size } } ...More } }
        fragment More on Branch { other { name } }
        """
    )
    assert level == {"leaf": {"name": {}, "size": {}}, "other": {"name": {}}}


def test_each_document_gets_its_own_description_and_keeps_it() -> None:
    document = "{ branch { leaf { name } } }"
    first = run(document)
    assert first == {"leaf": {"name": {}}}
    # Another document at the same field selects something else
    assert run("{ branch { other { size } } }") == {"other": {"size": {}}}
    # And the first, parsed afresh, still reads as it did
    assert run(document) == first
