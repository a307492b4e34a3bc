"""The root schema: Query and Mutation assembled from the areas, with error masking."""

from __future__ import annotations

import logging
from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from clientarea.logs import current_request_id
from schema.accounts import AccountMutations, AccountOnBehalfMutations, AccountQueries, Membership
from schema.audit import AuditEvent
from schema.identity import IdentityMutations, IdentityQueries, PasswordResetMutations
from schema.invitations import Invitation, InvitationMutations, InvitationQueries
from schema.members import MemberMutations
from schema.nodes import NodeQueries
from schema.users import User

SDL_PATH = Path(__file__).with_name("schema.graphql")
logger = logging.getLogger("clientarea.errors")

Query = merge_types("Query", (IdentityQueries, NodeQueries, AccountQueries, InvitationQueries))
Mutation = merge_types(
    "Mutation",
    (
        IdentityMutations,
        PasswordResetMutations,
        AccountMutations,
        AccountOnBehalfMutations,
        InvitationMutations,
        MemberMutations,
    ),
)


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Bugs become INTERNAL_SERVER_ERROR with the request ID; expected errors stay readable."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._classify, error_message="Internal server error.")

    def _classify(self, error: GraphQLError) -> bool:
        if _is_unexpected(error):
            logger.error(
                "unexpected error in %s",
                ".".join(str(p) for p in error.path or []),
                exc_info=error.original_error,
            )
            return True
        if error.extensions is None or "code" not in error.extensions:
            # Parse, validation and variable-coercion errors: the request itself was wrong.
            error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
        return False

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": current_request_id()},
        )


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[User, Membership, Invitation, AuditEvent],
    extensions=[MaskUnexpectedErrors],
    config=StrawberryConfig(auto_camel_case=True),
)


def export_sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    SDL_PATH.write_text(export_sdl())
