"""Fields resolve with as few Python calls as their definition allows.

Strawberry wraps each field for the general case: a field without a resolver calls the field's
`get_result`, which reads the `base_resolver` property and then the default resolver; a field
with a resolver goes through the extension chain (empty or not), argument conversion, a partial
per call and the resolver's `__call__`. A page of a hundred services completes about two thousand
fields, each through such a wrapper. Here a field that only reads an attribute does one `getattr`
(an `AttributeRead`, which `schema/executor.py` completes without graphql-core's general
machinery), and a resolver without arguments or extensions is called straight, with what it asks
for (the object, `info`) passed as Strawberry passes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


def _leaf(field_type: GraphQLOutputType) -> tuple[GraphQLScalarType | GraphQLEnumType | None, bool]:
    """The scalar or enum type `field_type` is (None if neither), and whether it is non-null."""
    non_null = isinstance(field_type, GraphQLNonNull)
    named = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return (named if isinstance(named, GraphQLScalarType | GraphQLEnumType) else None), non_null


class AttributeRead:
    """A field's resolver that reads one attribute of its object. For `PlainFieldsExecutor`:
    `leaf` is the field's scalar or enum type when it is one, `items` its items' type when it is
    a list of them; `non_null` and `items_non_null` whether they may not be null."""

    __slots__ = ("items", "items_non_null", "leaf", "name", "non_null")

    def __init__(self, name: str, field_type: GraphQLOutputType) -> None:
        self.name = name
        self.leaf, self.non_null = _leaf(field_type)
        named = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        self.items, self.items_non_null = (
            _leaf(named.of_type) if isinstance(named, GraphQLList) else (None, False)
        )

    def __call__(self, source: Any, _info: Any) -> Any:
        return getattr(source, self.name)


def _direct(field: StrawberryField, config: StrawberryConfig) -> Callable[..., Any] | None:
    """The field's resolver called straight, or None when only Strawberry's wrapper will do."""
    resolver = field.base_resolver
    if resolver is None or field.extensions or field.arguments or not callable(resolver.wrapped_func):
        return None
    call = resolver.wrapped_func
    takes_self = resolver.self_parameter is not None
    source_names = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None]
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    info_class = config.info_class
    if takes_self and not source_names and info_name is not None:

        def resolve_with_info(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
            return call(source, **{info_name: info_class(_raw_info=info, _field=field)})

        return resolve_with_info

    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        kwargs: dict[str, Any] = dict.fromkeys(source_names, source)
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return call(source, **kwargs) if takes_self else call(**kwargs)

    return resolve


def is_direct(resolve: Any) -> bool:
    """Whether `resolve` is a resolver `_direct` made."""
    return getattr(resolve, "__qualname__", "").startswith("_direct.<locals>.")


def _strawberry_wrapped(field: GraphQLField) -> bool:
    """Whether `resolve` is still the wrapper Strawberry made (not one set since)."""
    name = getattr(field.resolve, "__name__", "")
    return getattr(field.resolve, "_is_default", False) or name in {"_resolver", "_async_resolver"}


def plain_attribute_fields(schema: GraphQLSchema, config: StrawberryConfig) -> int:
    """Gives every field that allows it a direct resolver; returns how many it changed. Attribute
    reads only while the default resolver is `getattr`, which Strawberry's wrapper would call."""
    changed = 0
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field in graphql_type.fields.values():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or not _strawberry_wrapped(field):
                continue
            if definition.is_basic_field:
                if config.default_resolver is not getattr:
                    continue
                field.resolve = AttributeRead(definition.python_name, field.type)
            else:
                direct = _direct(definition, config)
                if direct is None:
                    continue
                field.resolve = direct
            changed += 1
    return changed
