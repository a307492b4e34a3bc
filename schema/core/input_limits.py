"""How long each string a caller sends may be, and how many items a page holds, stated once:
enforced before anything runs and written into the schema's descriptions from the same values.

A position is a schema coordinate: `InputType.field` or `Type.field(argument:)`. Positions a
mutation checks itself (with an INVALID user error on the field, like the other rules of that
input) are listed with that check's limit; every other string is refused above its limit with a
top-level BAD_USER_INPUT before any resolver runs, so no oversized value reaches the database.
"""

from __future__ import annotations

from graphql import (
    GraphQLArgument,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)

from resolvers.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from resolvers.core.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH
from resolvers.hosting.services import MAX_REASON_LENGTH
from resolvers.tickets import MAX_MESSAGE_LENGTH, MAX_SUBJECT_LENGTH

# Any string without a limit of its own: far above a name or a code, far below what would make a
# LIKE pattern or an index lookup expensive.
DEFAULT_MAX_LENGTH = 1_000
MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 200
MAX_SEARCH_LENGTH = 200

_EMAILS = (
    "AccountOwnerInput.email",
    "BillingProfileInput.email",
    "ContactInput.email",
    "InviteUserInput.email",
    "RequestPasswordResetInput.email",
    "SignInInput.email",
    "SignUpInput.email",
)
_TOKENS = (
    "AcceptInvitationInput.token",
    "ResetPasswordInput.token",
    "SignUpWithInvitationInput.token",
    "Query.invitation(token:)",
)

# Refused with BAD_USER_INPUT above the limit, before anything runs.
ENFORCED: dict[str, int] = {
    **dict.fromkeys(_EMAILS, MAX_EMAIL_LENGTH),
    **dict.fromkeys(_TOKENS, MAX_TOKEN_LENGTH),
    "SignInInput.password": MAX_PASSWORD_LENGTH,
    "Viewer.accounts(search:)": MAX_SEARCH_LENGTH,
    "DomainFilter.search": MAX_SEARCH_LENGTH,
}

# Checked by the mutation, which answers an INVALID user error on the field above the limit.
CHECKED_BY_MUTATION: dict[str, int] = {
    "AccountOwnerInput.name": 200,
    "SignUpInput.name": 200,
    "SignUpWithInvitationInput.name": 200,
    "CreateClientAccountInput.name": 200,
    "CreateClientAccountOnBehalfInput.name": 200,
    "CreateApiTokenInput.name": 100,
    "BillingProfileInput.firstName": 100,
    "BillingProfileInput.lastName": 100,
    "BillingProfileInput.companyName": 200,
    "BillingProfileInput.taxId": 32,
    "AddressInput.countryCode": 2,
    "ContactInput.firstName": 100,
    "ContactInput.lastName": 100,
    "ContactInput.companyName": 200,
    "AddressInput.line1": 200,
    "AddressInput.line2": 200,
    "AddressInput.city": 100,
    "AddressInput.state": 100,
    "AddressInput.postalCode": 20,
    "OpenTicketInput.subject": MAX_SUBJECT_LENGTH,
    "OpenTicketInput.message": MAX_MESSAGE_LENGTH,
    "ReplyToTicketInput.message": MAX_MESSAGE_LENGTH,
    "RequestServiceCancellationInput.reason": MAX_REASON_LENGTH,
    "PlaceOrderInput.idempotencyKey": 200,
    "DomainOrderInput.authCode": 64,
    "SignUpInput.password": MAX_PASSWORD_LENGTH,
    "ResetPasswordInput.password": MAX_PASSWORD_LENGTH,
    "SignUpWithInvitationInput.password": MAX_PASSWORD_LENGTH,
}


def max_length(position: str) -> int | None:
    """The limit enforced before anything runs at `position`; None where the mutation checks it."""
    if position in CHECKED_BY_MUTATION:
        return None
    return ENFORCED.get(position, DEFAULT_MAX_LENGTH)


def documented_length(position: str) -> int:
    return CHECKED_BY_MUTATION.get(position) or ENFORCED.get(position, DEFAULT_MAX_LENGTH)


PAGE_SIZE_NOTE = (
    f"How many items to return: 0 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}); "
    "another number is BAD_USER_INPUT."
)
CURSOR_NOTE = "The `pageInfo.endCursor` of the previous page; a malformed cursor is BAD_USER_INPUT."


def _note(target: GraphQLArgument | GraphQLInputField, position: str, name: str, connection: bool) -> str:
    if connection and name == "first":
        return PAGE_SIZE_NOTE
    kind = get_named_type(target.type).name
    if kind == "ID" and position not in ENFORCED:
        # IDs are opaque and decoded at one boundary; their bound is the default, not a feature.
        return ""
    if kind not in {"String", "ID"}:
        return ""
    note = f"At most {documented_length(position):,} characters."
    return f"{CURSOR_NOTE} {note}" if connection and name == "after" else note


def _describe(target: GraphQLArgument | GraphQLInputField, note: str) -> None:
    if note and note not in (target.description or ""):
        target.description = f"{target.description} {note}" if target.description else note


def document_input_limits(schema: GraphQLSchema) -> None:
    """Appends each argument's and input field's limits (page size, string length) to its
    description, from the values the checks use."""
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLInputObjectType):
            for name, input_field in type_.fields.items():
                position = f"{type_.name}.{name}"
                _describe(input_field, _note(input_field, position, name, connection=False))
        elif isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, definition in type_.fields.items():
                connection = "first" in definition.args and "after" in definition.args
                for name, argument in definition.args.items():
                    position = f"{type_.name}.{field_name}({name}:)"
                    _describe(argument, _note(argument, position, name, connection))
