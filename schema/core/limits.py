"""Limits on what one request may ask for: depth, aliases, tokens, directives and query cost.

Every refusal happens before anything is resolved and carries `extensions.code`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    ValidationContext,
    validate,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.core.arguments import inspect_operation
from schema.core.selections import selection_problem

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


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    # Strawberry's own rules, as its validate_document adds them; no "Did you mean …?" in any
    # message: suggestions would spell out the schema that disabled introspection hides.
    return validate(
        schema,
        document,
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        hide_suggestions=True,
    )


_Checked = tuple[DocumentNode, list[GraphQLError]]


class DocumentChecks:
    """The selection bound and validation of a document, kept by the document's identity, for
    each schema.

    ParserCache hands back the same DocumentNode for the same text, so identity finds a document
    checked before; `lru_cache` keyed on the document itself hashed it by value on every request,
    a walk of the whole tree (graphql-core hashes nodes by their fields), and the selection bound
    walked it again. An entry holds its document, so its id cannot be reused while it is kept; each
    request gets its own copy of the errors. A schema's entries go with it: a process that builds
    many schemas (the tests build one per app) kept every one of them alive through this cache,
    hundreds at a time, each a few thousand objects."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.by_schema: WeakKeyDictionary[GraphQLSchema, OrderedDict[tuple[int, Any], _Checked]] = (
            WeakKeyDictionary()
        )
        self.hits = 0
        self.misses = 0

    def __call__(
        self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        entries = self.by_schema.get(schema)
        if entries is None:
            entries = self.by_schema[schema] = OrderedDict()
        key = (id(document), rules)
        entry = entries.get(key)
        if entry is not None and entry[0] is document:
            self.hits += 1
            entries.move_to_end(key)
            return list(entry[1])
        self.misses += 1
        problem = selection_problem(document)
        errors = [too_complex(problem)] if problem is not None else _validate(schema, document, rules)
        entries[key] = (document, errors)
        if len(entries) > self.maxsize:
            entries.popitem(last=False)
        return list(errors)


class BoundedValidation(SchemaExtension):
    """Validation, cached per document like Strawberry's ValidationCache, after a linear bound on
    the document's selections (see schema.core.selections) and without suggestions."""

    def __init__(self, *, maxsize: int) -> None:
        self.checks = document_checks(maxsize)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.validation_rules:
            context.pre_execution_errors = self.checks(
                context.schema._schema, document, tuple(context.validation_rules)
            )
        yield


@lru_cache
def document_checks(maxsize: int) -> DocumentChecks:
    """One cache per size, shared by the schemas built in this process (keyed by schema too)."""
    return DocumentChecks(maxsize)


class QueryCost(SchemaExtension):
    """Reports `extensions.cost` on every response and refuses operations above the limit, or
    whose variables or strings are unacceptable (schema.core.arguments), before anything runs."""

    max_cost = DEFAULT_MAX_COST

    def __init__(self, *, max_cost: int = DEFAULT_MAX_COST) -> None:
        self.max_cost = max_cost
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            inspection = inspect_operation(
                context.schema._schema,
                context.graphql_document,
                context.variables,
                context.operation_name,
            )
            self.cost = inspection.cost
            if inspection.errors:
                context.result = GraphQLExecutionResult(data=None, errors=inspection.errors)
            elif self.cost > self.max_cost:
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
