"""Declared requirements, applied: gated fields and mutations built from resolvers/core/policies.py.

A gated field is declared with `gated(POLICY.view)`: its permission check and the "Needs ..."
sentence of its description come from the same `Needs`. A mutation is declared with
`mutation(requirement)`, beside its definition: what it acts on (the input field naming the
account or the object, and what it needs there) or that it is identity-level. The wrapper checks
the requirement before the body runs, hands the body what it found (`granted`), decodes the
global ID it named, and turns any `Rejected` into the payload's `userErrors`: no mutation has its
own `try` block or its own authorisation.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import strawberry

from resolvers.core.context import Context
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.permissions import (
    FieldPermissions,
    InAccount,
    grant,
    require_principal,
    require_unrestricted,
)
from resolvers.core.policies import Needs, Policy
from resolvers.core.principal import Access, Principal
from resolvers.email_verification import require_verified_email
from schema.core.base import authenticated, user_errors
from schema.core.ids import decode_id


def gated(needs: Needs, description: str | None = None, *, account_of: str = "account_pk") -> dict[str, Any]:
    """`strawberry.field` arguments of a field gated by `needs` in the object's account (rule 7).

    `account_of`: the attribute naming that account; None there means nothing to show, and the
    field resolves without a check (to null).
    """
    permission = InAccount(needs, account_of=account_of)
    return {
        "description": needs.describe(description),
        "extensions": [FieldPermissions(permissions=[permission], use_directives=False)],
    }


@dataclass(frozen=True)
class Public:
    """Anyone may call it, signed in or not (signing in, signing up, resetting a password)."""


@dataclass(frozen=True)
class SignedIn:
    """Any signed-in viewer, restricted tokens included: it touches only the viewer's own credential."""


@dataclass(frozen=True)
class Identity:
    """Identity-level: a session or an unrestricted token (rule 14).

    `verified`: the viewer's address must be proven first (rule 13).
    """

    verified: bool = False


@dataclass(frozen=True)
class CookieSession:
    """A signed-in browser session, never an API token: password and two-factor changes (rule 14)."""

    refusal: str = "This is changed in a signed-in browser session, never with an API token."


@dataclass(frozen=True)
class OnAccount:
    """The input field naming the account, and what the viewer needs there."""

    field: str
    needs: Needs


@dataclass(frozen=True)
class OnObject:
    """The input field naming an object of `policy`'s kind; the viewer needs `needs` (default: the
    policy's `change`) in the object's account. A foreign ID answers as a missing one (rule 6)."""

    field: str
    policy: Policy
    needs: Needs | None = None


Requirement = Public | SignedIn | Identity | CookieSession | OnAccount | OnObject


def required(requirement: Requirement) -> Needs | None:
    """The permissions a requirement needs in an account (None: it names no account)."""
    if isinstance(requirement, OnAccount):
        return requirement.needs
    if isinstance(requirement, OnObject):
        return requirement.needs or requirement.policy.change
    return None


def on_account(field: str, needs: Needs) -> OnAccount:
    return OnAccount(field, needs)


@dataclass(frozen=True)
class Granted:
    """What the requirement established, for the mutation's body."""

    principal: Principal | None
    access: Access | None = None
    # The object an `OnObject` requirement named, as the viewer's loaders returned it.
    target: Any = None
    # The key the requirement's input field named (decoded from its global ID).
    key: uuid.UUID | None = None
    # What the mutation's `prepare` made of its input before any check ran.
    prepared: Any = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def _check(requirement: Requirement, context: Context, input: Any) -> Granted:
    if isinstance(requirement, Public):
        return Granted(context.principal)
    if isinstance(requirement, SignedIn):
        return Granted(require_principal(context))
    if isinstance(requirement, Identity):
        principal = require_unrestricted(context)
        if requirement.verified:
            await require_verified_email(context)
        return Granted(principal)
    if isinstance(requirement, CookieSession):
        principal = require_principal(context)
        if principal.credential != "session":
            raise reject(requirement.refusal, UserErrorCode.FORBIDDEN)
        return Granted(principal)
    principal = require_principal(context)
    field = _camel(requirement.field)
    if isinstance(requirement, OnAccount):
        key = decode_id(getattr(input, requirement.field), "ClientAccount")
        access = await grant(context, key, requirement.needs, field=field)
        return Granted(principal, access, key=key)
    key = decode_id(getattr(input, requirement.field), requirement.policy.kind)
    loader = operator.attrgetter(requirement.policy.loader)(context.loaders)
    target = await loader.load(key) if key is not None else None
    if target is None:
        raise not_found("input", field)
    access = await grant(
        context, target.account_id, requirement.needs or requirement.policy.change, field=field
    )
    return Granted(principal, access, target=target, key=key)


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def mutation(
    requirement: Requirement,
    description: str | None = None,
    *,
    prepare: Callable[[Any], Any] | None = None,
    **options: Any,
) -> Callable[[F], Any]:
    """Declares a mutation with its requirement (see the module's docstring).

    The decorated method takes `(self, info, input, granted)`; `granted` is filled by the wrapper
    and hidden from the schema. Its payload type must accept `user_errors`. `prepare` runs on the
    input before the requirement is checked (decoding further IDs, so a malformed one is
    BAD_USER_INPUT before anything else: DESIGN rule 11); its result is `granted.prepared`.
    """

    def decorate(body: F) -> Any:
        signature = inspect.signature(body)

        @functools.wraps(body)
        async def resolve(*args: Any, **kwargs: Any) -> Any:
            info = kwargs["info"] if "info" in kwargs else args[1]
            try:
                input = kwargs.get("input")
                prepared = prepare(input) if prepare is not None else None
                granted = await _check(requirement, info.context, input)
                if prepared is not None:
                    granted = dataclasses.replace(granted, prepared=prepared)
                return await body(*args, granted=granted, **kwargs)
            except Rejected as rejected:
                payload = typing.get_type_hints(body)["return"]
                return payload(user_errors=user_errors(rejected))

        resolve.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for name, p in signature.parameters.items() if name != "granted"]
        )
        resolve.__annotations__ = {k: v for k, v in body.__annotations__.items() if k != "granted"}
        needs = required(requirement)
        text = needs.describe(description) or None if needs is not None else description
        extensions = [] if isinstance(requirement, Public) else authenticated()
        field = strawberry.mutation(resolver=resolve, description=text, extensions=extensions, **options)
        field.requirement = requirement
        return field

    return decorate
