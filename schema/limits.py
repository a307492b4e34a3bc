"""Limits on what one request may ask for: depth, aliases, tokens, directives and query cost.

Every refusal happens before anything is resolved and carries `extensions.code`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    get_named_type,
    value_from_ast_untyped,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from resolvers.pagination import DEFAULT_PAGE_SIZE

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_DIRECTIVES = 10
DEFAULT_MAX_COST = 50_000

# Messages of Strawberry's and graphql-core's limiters, which carry no code of their own.
LIMIT_MESSAGES = ("exceeds maximum operation depth", "aliases found. Allowed:", "tokens. Parsing aborted")


def too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX"})


def is_limit_error(error: GraphQLError) -> bool:
    return error.original_error is None and any(m in error.message for m in LIMIT_MESSAGES)


class MaxDirectivesRule(ASTValidationRule):
    """At most MAX_DIRECTIVES directives in a document, reported once (not once per directive)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.count = 0

    def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
        self.count += 1
        if self.count == MAX_DIRECTIVES + 1:
            self.report_error(
                GraphQLError(
                    f"More than {MAX_DIRECTIVES} directives in one request.",
                    extensions={"code": "QUERY_TOO_COMPLEX"},
                )
            )


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> int:
    """How many nodes the operation may return, as GitHub counts them: each connection adds its
    `first` (default 20) times the sizes of the connections around it; `nodes` adds its IDs."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)),
        None,
    )
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    values = variables or {}

    def argument(field: FieldNode, name: str) -> Any:
        for arg in field.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, values)
        return None

    def walk(selection_set: SelectionSetNode, parent: Any, multiplier: int, seen: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(selection.name.value)
                if definition is None:
                    continue
                inner = multiplier
                if "first" in definition.args:
                    first = argument(selection, "first")
                    inner = multiplier * (
                        first if isinstance(first, int) and first >= 0 else DEFAULT_PAGE_SIZE
                    )
                    total += inner
                elif selection.name.value == "nodes":
                    ids = argument(selection, "ids")
                    inner = multiplier * (len(ids) if isinstance(ids, list) else 1)
                    total += inner
                if selection.selection_set is not None:
                    total += walk(selection.selection_set, get_named_type(definition.type), inner, seen)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = schema.get_type(selection.type_condition.name.value) or parent
                total += walk(selection.selection_set, target, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = schema.get_type(fragment.type_condition.name.value) or parent
                total += walk(fragment.selection_set, target, multiplier, seen | {name})
        return total

    return walk(operation.selection_set, root, 1, frozenset())


class QueryCost(SchemaExtension):
    """Reports `extensions.cost` on every response and refuses operations above the limit."""

    max_cost = DEFAULT_MAX_COST

    def __init__(self, *, max_cost: int = DEFAULT_MAX_COST) -> None:
        self.max_cost = max_cost
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            self.cost = query_cost(
                context.schema._schema,
                context.graphql_document,
                context.variables,
                context.operation_name,
            )
            if self.cost > self.max_cost:
                context.result = GraphQLExecutionResult(
                    data=None,
                    errors=[
                        too_complex(
                            f"This query may return {self.cost} nodes; at most {self.max_cost} "
                            "are allowed. Ask for fewer items (`first`) or split the query."
                        )
                    ],
                )
        yield

    def get_results(self) -> dict[str, Any]:
        return {} if self.cost is None else {"cost": self.cost}
