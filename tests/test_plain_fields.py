"""Plain attribute fields resolve by one getattr (schema/plain_fields.py); fields with a resolver or
a permission check keep Strawberry's wrapper."""

from __future__ import annotations

from types import SimpleNamespace

import strawberry
from graphql import GraphQLObjectType

from schema.plain_fields import plain_attribute_fields
from schema.schema import schema


def _field(type_name: str, field_name: str) -> object:
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    return graphql_type.fields[field_name]


def test_a_plain_field_reads_its_python_attribute() -> None:
    next_due = _field("Service", "nextDueDate")
    assert next_due.resolve(SimpleNamespace(next_due_date="2027-01-01"), None) == "2027-01-01"  # type: ignore[attr-defined]


def test_fields_with_a_resolver_or_a_permission_keep_their_wrapper() -> None:
    assert not _field("Service", "product").resolve.__qualname__.startswith("_attribute")  # type: ignore[attr-defined]
    assert not _field("ClientAccount", "billingProfile").resolve.__qualname__.startswith("_attribute")  # type: ignore[attr-defined]


def test_a_schema_with_another_default_resolver_is_left_alone() -> None:
    @strawberry.type
    class Query:
        snake_name: str = "x"

    other = strawberry.Schema(
        query=Query, config=strawberry.schema.config.StrawberryConfig(default_resolver=lambda o, n: n)
    )
    assert plain_attribute_fields(other._schema, other.config.default_resolver) == 0
    result = other.execute_sync("{ snakeName }", root_value=Query())
    assert result.data == {"snakeName": "snake_name"}
    mine = strawberry.Schema(query=Query)
    assert plain_attribute_fields(mine._schema, mine.config.default_resolver) == 1
    assert mine.execute_sync("{ snakeName }", root_value=Query()).data == {"snakeName": "x"}
