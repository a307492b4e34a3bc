"""The root schema: Query and Mutation assembled from the areas, with error masking."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from models.availability import error_chain
from resolvers.core.logs import current_request_id
from schema.accounts.accounts import AccountQueries, Membership
from schema.accounts.members import MemberMutations
from schema.accounts.mutations import AccountMutations, AccountOnBehalfMutations
from schema.affiliates import AffiliateMutations
from schema.audit import AuditEvent
from schema.billing import Invoice, Order, OrderMutations
from schema.catalogue import CatalogueQueries, Product
from schema.contacts import Contact, ContactMutations
from schema.core.availability import service_unavailable, unavailability
from schema.core.enum_descriptions import describe_enums
from schema.core.input_limits import document_input_limits
from schema.core.limits import (
    DEFAULT_MAX_COST,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_TOKENS,
    BoundedValidation,
    MaxDirectivesRule,
    QueryCost,
    is_limit_error,
)
from schema.core.scalars import SCALARS
from schema.email_verification import EmailVerificationMutations
from schema.enum_output import speed_up_enum_output
from schema.executor import PlainFieldsExecutor
from schema.hosting.domains import Domain, DomainMutations
from schema.hosting.services import Service, ServiceMutations
from schema.identity import IdentityMutations, IdentityQueries
from schema.invitations import Invitation, InvitationMutations, InvitationQueries
from schema.nodes import NodeQueries
from schema.password_resets import PasswordResetMutations
from schema.plain_fields import plain_attribute_fields
from schema.scopes import ScopeMutations
from schema.sso import SsoMutations
from schema.tickets import Ticket, TicketMutations
from schema.two_factor import TwoFactorMutations
from schema.users import User

SDL_PATH = Path(__file__).with_name("schema.graphql")
logger = logging.getLogger("clientarea.errors")
# Parsed and validated documents kept per process; bounded, so odd queries cannot grow memory.
CACHE_SIZE = 512
# What a caller is told about a bug or an outage; the detail goes to the log under the request ID.
INTERNAL_ERROR_MESSAGE = "Internal server error."

Query = merge_types(
    "Query", (IdentityQueries, NodeQueries, AccountQueries, InvitationQueries, CatalogueQueries)
)
Mutation = merge_types(
    "Mutation",
    (
        IdentityMutations,
        PasswordResetMutations,
        EmailVerificationMutations,
        AccountMutations,
        AccountOnBehalfMutations,
        InvitationMutations,
        MemberMutations,
        ScopeMutations,
        DomainMutations,
        ContactMutations,
        ServiceMutations,
        SsoMutations,
        OrderMutations,
        TicketMutations,
        AffiliateMutations,
        TwoFactorMutations,
    ),
)


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def _classify(error: GraphQLError) -> bool:
    """Whether MaskUnexpectedErrors masks `error`; an unexpected one is logged here."""
    if unavailability(error) is not None:
        return True  # not a bug: answered as SERVICE_UNAVAILABLE, logged once per outage
    if _is_unexpected(error):
        logger.error(
            "unexpected error in %s",
            ".".join(str(p) for p in error.path or []),
            exc_info=error.original_error,
        )
        return True
    return False


def let_go_of_traceback(error: BaseException) -> None:
    """Drops the tracebacks of `error` and of the errors behind it, once it is logged (`_classify`):
    a traceback holds the frames it passed, and they hold the error, the executor and through it
    the request's context, rows and answer, a reference cycle only the collector would free."""
    for linked in error_chain(error):
        linked.__traceback__ = None


class MaskUnexpectedErrors(MaskErrors):
    """Bugs become INTERNAL_SERVER_ERROR with the request ID; expected errors stay readable."""

    def __init__(self) -> None:
        # A function, not a bound method: the extension holding its own method would be a cycle
        # keeping the request's whole execution (context, loaders, rows, the answer) alive until
        # the collector's next full pass.
        super().__init__(should_mask_error=_classify, error_message=INTERNAL_ERROR_MESSAGE)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in errors:
            let_go_of_traceback(error)
        return processed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        unavailable = unavailability(error)
        if unavailable is not None:
            return service_unavailable(error, unavailable, self.execution_context.context)
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": current_request_id()},
        )


class ClientAreaSchema(strawberry.Schema):
    """Logs no error itself. MaskUnexpectedErrors logs the unexpected ones, with their traceback and
    the request ID; the expected ones (bad input, limits) are answers, not incidents, and their
    messages quote the request, variables and passwords included."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def error_code(error: GraphQLError) -> str:
    """The code of an error that carries none: limits, or else a malformed or invalid request
    (parse, validation and variable-coercion errors)."""
    return "QUERY_TOO_COMPLEX" if is_limit_error(error) else "BAD_USER_INPUT"


def build_schema(
    *, introspection: bool = True, max_cost: int = DEFAULT_MAX_COST, observers: Sequence[Any] = ()
) -> strawberry.Schema:
    """The schema with its limits, and `observers` (metrics and tracing extensions) around them;
    introspection is off in production unless enabled."""
    # The limit rules are built once, not per request: QueryDepthLimiter and MaxAliasesLimiter
    # make a new rule class each time, and ValidationCache keys on the rules, so a fresh class per
    # request missed the cache and every request validated its document anew.
    limit_rules = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
        MaxDirectivesRule,
    ]
    extensions: list[Any] = [
        MaskUnexpectedErrors,
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryCost(max_cost=max_cost),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: BoundedValidation(maxsize=CACHE_SIZE),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    built = ClientAreaSchema(
        query=Query,
        mutation=Mutation,
        types=[
            User,
            Membership,
            Invitation,
            AuditEvent,
            Product,
            Contact,
            Service,
            Domain,
            Order,
            Invoice,
            Ticket,
        ],
        extensions=[*observers, *extensions],
        config=StrawberryConfig(auto_camel_case=True, disable_field_suggestions=True, scalar_map=SCALARS),
        execution_context_class=PlainFieldsExecutor,
    )
    document_input_limits(built._schema)
    describe_enums(built._schema)
    speed_up_enum_output(built._schema)
    plain_attribute_fields(built._schema, built.config)
    return built


schema = build_schema()


def export_sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    SDL_PATH.write_text(export_sdl())
