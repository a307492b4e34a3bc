"""The operation's argument values as they will run, read before anything resolves.

Variables are coerced first (defaults applied, `100.0` read as 100), so the cost of a query and the
checks on its strings see exactly the values the resolvers will get. One pass over the operation
does both: each fragment is read once however often it is spread, so the work stays linear in the
size of the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from resolvers.core.pagination import DEFAULT_PAGE_SIZE
from schema.core.input_limits import max_length

# Costs are reported in JSON: past 2**53 a client's number parser loses precision, and orjson
# refuses integers past 64 bits. Nothing near this is ever allowed to run anyway.
MAX_REPORTED_COST = 2**53 - 1
# At most this many problems with a request's strings are reported; one is enough to fix.
MAX_INPUT_ERRORS = 10
_TEXT_SCALARS = frozenset({"String", "ID"})


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


@dataclass
class Inspection:
    """What the operation may return (`cost`), or why it must not run (`errors`)."""

    cost: int = 0
    errors: list[GraphQLError] = field(default_factory=list)


def _operation(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        # Several operations and no name is an error graphql-core reports itself.
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


class _Walk:
    def __init__(self, schema: GraphQLSchema, document: Any, variables: VariableValues) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragment_costs: dict[str, int] = {}
        self.errors: list[GraphQLError] = []

    def check_text(self, value: Any, type_: GraphQLInputType, position: str) -> None:
        """Every String or ID value at `position`, however deeply nested, is free of NUL characters
        (PostgreSQL cannot store them) and within its documented length."""
        if len(self.errors) >= MAX_INPUT_ERRORS or value is None:
            return
        if isinstance(type_, GraphQLNonNull):
            self.check_text(value, type_.of_type, position)
        elif isinstance(type_, GraphQLList):
            for item in value if isinstance(value, list) else [value]:
                self.check_text(item, type_.of_type, position)
        elif isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
            for name, definition in type_.fields.items():
                inner = value.get(definition.out_name or name)
                self.check_text(inner, definition.type, f"{type_.name}.{name}")
        elif isinstance(type_, GraphQLScalarType) and type_.name in _TEXT_SCALARS and isinstance(value, str):
            limit = max_length(position)
            if "\x00" in value:
                self.errors.append(bad_input(f"`{position}` must not contain NUL characters."))
            elif limit is not None and len(value) > limit:
                self.errors.append(bad_input(f"`{position}` is at most {limit} characters."))

    def arguments(self, parent: GraphQLNamedType, node: FieldNode, definition: Any) -> dict[str, Any]:
        if not node.arguments:
            return {}
        try:
            values = get_argument_values(definition, node, self.variables, hide_suggestions=True)
        except GraphQLError:
            # Execution reports the same problem at the field; the cost takes the defaults.
            return {}
        for name, argument in definition.args.items():
            position = f"{parent.name}.{node.name.value}({name}:)"
            self.check_text(values.get(argument.out_name or name), argument.type, position)
        return values

    def cost(self, selection_set: SelectionSetNode, parent: Any) -> int:
        """Nodes this selection may return per parent object, as GitHub counts them: each
        connection adds its `first` (default 20) times what its nodes select; `nodes` its IDs."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(selection.name.value)
                if definition is None:
                    continue
                values = self.arguments(parent, selection, definition)
                count = 1
                if "first" in definition.args:
                    first = values.get("first")
                    count = first if isinstance(first, int) and first >= 0 else DEFAULT_PAGE_SIZE
                    total += count
                elif selection.name.value == "nodes":
                    ids = values.get("ids")
                    count = len(ids) if isinstance(ids, list) else 1
                    total += count
                if selection.selection_set is not None:
                    total += count * self.cost(selection.selection_set, get_named_type(definition.type))
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.schema.get_type(selection.type_condition.name.value) or parent
                total += self.cost(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_cost(selection.name.value, parent)
        return total

    def fragment_cost(self, name: str, parent: Any) -> int:
        if name not in self.fragment_costs:
            fragment = self.fragments.get(name)
            # Marked first, so a cycle (refused by validation before this runs) cannot recurse.
            self.fragment_costs[name] = 0
            if fragment is not None:
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                self.fragment_costs[name] = self.cost(fragment.selection_set, target)
        return self.fragment_costs[name]


def inspect_operation(
    schema: GraphQLSchema,
    document: Any,
    raw_variables: dict[str, Any] | None,
    operation_name: str | None,
) -> Inspection:
    """The operation's cost, computed from its coerced arguments, and every problem with its
    variables or strings; an operation that cannot be chosen costs 0 (execution reports why)."""
    operation = _operation(document, operation_name)
    root = schema.get_root_type(operation.operation) if operation is not None else None
    if operation is None or root is None:
        return Inspection()
    variables = get_variable_values(
        schema,
        operation.variable_definitions or (),
        raw_variables if isinstance(raw_variables, dict) else {},
        max_errors=MAX_INPUT_ERRORS,
        hide_suggestions=True,
    )
    if isinstance(variables, list):
        return Inspection(errors=variables)
    walk = _Walk(schema, document, variables)
    cost = walk.cost(operation.selection_set, root)
    return Inspection(cost=min(cost, MAX_REPORTED_COST), errors=walk.errors)
