"""Enum values leave the schema by one dictionary lookup instead of a scan of the enum's values.

Strawberry's enum type turns a Python member into its GraphQL name by comparing the member with
every value of the enum in turn (two property reads each). A page of account edges serialises a
permission list per edge, so that scan ran hundreds of times per response.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from graphql import GraphQLEnumType, GraphQLSchema


def _output_by_member(enum: GraphQLEnumType, wrapped: type[Enum]) -> Callable[[Any], Any]:
    names: dict[Any, str] = {}
    for name, value in enum.values.items():
        names.setdefault(value.value, name)
    by_member = {member: names[member.value] for member in wrapped if member.value in names}
    scan = enum.coerce_output_value

    def coerce_output_value(output_value: Any) -> Any:
        # Exactly the members of the enum class: a str-valued member compares equal to its raw
        # value, so a plain string must not be answered from this table.
        if type(output_value) is wrapped:
            name = by_member.get(output_value)
            if name is not None:
                return name
        return scan(output_value)

    return coerce_output_value


def speed_up_enum_output(schema: GraphQLSchema) -> None:
    """Gives every enum built from a Python Enum class the lookup (graphql-core calls
    `coerce_output_value` for each enum value it completes; `serialize` is its older name)."""
    for graphql_type in schema.type_map.values():
        wrapped = getattr(graphql_type, "wrapped_cls", None)
        if not isinstance(graphql_type, GraphQLEnumType) or not isinstance(wrapped, type):
            continue
        if issubclass(wrapped, Enum):
            coerce = _output_by_member(graphql_type, wrapped)
            graphql_type.coerce_output_value = coerce  # type: ignore[method-assign,assignment]
            graphql_type.serialize = coerce  # type: ignore[method-assign,assignment]
