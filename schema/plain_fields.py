"""Fields that only read an attribute resolve by one `getattr`.

Strawberry gives a field without a resolver or extensions a wrapper that calls the field's
`get_result`, which reads the `base_resolver` property and then the configured default resolver:
three Python calls for each such field of each node. A page of a hundred services completes
about two thousand fields, most of them plain attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


def _attribute(name: str) -> Callable[..., Any]:
    def resolve(source: Any, _info: Any) -> Any:
        return getattr(source, name)

    return resolve


def plain_attribute_fields(schema: GraphQLSchema, default_resolver: Callable[[Any, str], Any]) -> int:
    """Gives every basic field (Strawberry marks its wrapper `_is_default`) a direct attribute
    read; returns how many it changed. Only while the default resolver is `getattr`, which the
    wrapper would call."""
    if default_resolver is not getattr:
        return 0
    changed = 0
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field in graphql_type.fields.values():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not getattr(field.resolve, "_is_default", False) or not isinstance(
                definition, StrawberryField
            ):
                continue
            if definition.base_resolver is not None or definition.extensions:
                continue
            field.resolve = _attribute(definition.python_name)
            changed += 1
    return changed
