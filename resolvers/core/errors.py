"""Expected failures as data (user errors) and the few top-level errors a request can end with."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graphql import GraphQLError

from models.permissions import Permission, ordered
from resolvers.core.metrics import RATE_LIMIT_REFUSALS


class UserErrorCode(enum.Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    EMAIL_ALREADY_REGISTERED = "EMAIL_ALREADY_REGISTERED"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    INVITATION_NOT_PENDING = "INVITATION_NOT_PENDING"
    INVITATION_EMAIL_MISMATCH = "INVITATION_EMAIL_MISMATCH"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    RATE_LIMITED = "RATE_LIMITED"
    PERMISSION_ESCALATION = "PERMISSION_ESCALATION"
    OWNER_REQUIRED = "OWNER_REQUIRED"
    CONTACT_IN_USE = "CONTACT_IN_USE"
    DOMAIN_UNAVAILABLE = "DOMAIN_UNAVAILABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    TOKEN_INVALID = "TOKEN_INVALID"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    # The account requires two-factor sign-in and the viewer has not turned it on.
    TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"


@dataclass(frozen=True)
class Problem:
    """One user error: what went wrong, its code, and the input path it belongs to."""

    message: str
    code: UserErrorCode
    field: tuple[str, ...] | None = None


class Rejected(Exception):
    """Raised inside a unit of work to roll it back and answer with user errors."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems[0].message if problems else "rejected")
        self.problems = list(problems)


def reject(message: str, code: UserErrorCode, *field: str) -> Rejected:
    # Every RATE_LIMITED answer is built here or by RateLimited, so operators see each refusal.
    if code is UserErrorCode.RATE_LIMITED:
        RATE_LIMIT_REFUSALS.inc()
    return Rejected([Problem(message, code, field or None)])


def not_found(*field: str) -> Rejected:
    # One message for "missing" and "not yours", so the two cannot be told apart (DESIGN rule 6).
    return reject("Not found.", UserErrorCode.NOT_FOUND, *field)


def forbidden(required: Iterable[Permission]) -> Rejected:
    names = ", ".join(p.value for p in ordered(required))
    return reject(f"This needs one of these permissions: {names}.", UserErrorCode.FORBIDDEN)


class BadUserInput(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


class Unauthenticated(GraphQLError):
    def __init__(self, message: str = "Sign in to do this.") -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class RateLimited(GraphQLError):
    """A query (not a mutation, which answers a user error) asked too often."""

    def __init__(self, message: str = "Too many requests; try again later.") -> None:
        super().__init__(message, extensions={"code": "RATE_LIMITED"})
        RATE_LIMIT_REFUSALS.inc()


class Forbidden(GraphQLError):
    def __init__(self, required: Iterable[Permission]) -> None:
        names = [p.value for p in ordered(required)]
        super().__init__(
            f"This needs one of these permissions: {', '.join(names)}.",
            extensions={"code": "FORBIDDEN", "requiredPermissions": names},
        )
