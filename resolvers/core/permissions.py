"""The permission core: who may reach an account, and what they may do there (DESIGN rules 1-12, 17)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable
from functools import cached_property, lru_cache
from typing import Any, cast

from graphql import GraphQLError
from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    Subquery,
    and_,
    exists,
    false,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased
from strawberry.exceptions import PermissionReturnedNonBooleanError
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from models.accounts import ClientAccount, Membership, MembershipRole
from models.identity import ApiTokenAccount
from models.permissions import SCOPED_PERMISSIONS, Permission, ordered
from models.two_factor import TwoFactorCredential
from resolvers.core.context import Context
from resolvers.core.dialects import NotAmong, NotIndexed
from resolvers.core.errors import (
    Forbidden,
    Rejected,
    Unauthenticated,
    UserErrorCode,
    forbidden,
    not_found,
    reject,
)
from resolvers.core.policies import Needs
from resolvers.core.principal import Access, Principal


def require_principal(context: Context) -> Principal:
    if context.principal is None:
        raise Unauthenticated
    return context.principal


def require_unrestricted(context: Context) -> Principal:
    """For identity-level actions (accepting invitations, creating accounts or tokens, leaving,
    email settings): a restricted token is refused whatever the target (DESIGN rule 14)."""
    principal = require_principal(context)
    if principal.restricted:
        raise reject(
            "An API token restricted to some accounts or permissions cannot do this; "
            "use a session or an unrestricted token.",
            UserErrorCode.FORBIDDEN,
        )
    return principal


async def grant(
    context: Context, account_id: uuid.UUID | None, needs: Needs, *, field: str = "accountId"
) -> Access:
    """For a mutation: the viewer's access to the account when it meets `needs`, or a NOT_FOUND,
    TWO_FACTOR_REQUIRED or FORBIDDEN rejection (DESIGN rules 6, 7 and 17)."""
    access = await context.access(account_id) if account_id is not None else None
    if access is None:
        raise not_found("input", field)
    if access.two_factor_required:
        raise reject(
            "This account requires two-factor sign-in; turn it on for your login to act here.",
            UserErrorCode.TWO_FACTOR_REQUIRED,
        )
    if not needs.met_by(access.permissions):
        raise refused(needs, access.permissions)
    return access


def refused(needs: Needs, held: frozenset[Permission]) -> Rejected:
    """FORBIDDEN naming what is missing: one of `any_of`, or those of `all_of` not held."""
    if needs.any_of and not any(p in held for p in needs.any_of):
        return forbidden(needs.any_of)
    missing = [p for p in needs.all_of if p not in held]
    if len(missing) == 1:
        return forbidden(missing)
    names = ", ".join(p.value for p in ordered(missing))
    return reject(f"This needs all of these permissions: {names}.", UserErrorCode.FORBIDDEN)


async def authorize(
    context: Context, account_id: uuid.UUID | None, *any_of: Permission, field: str = "accountId"
) -> Access:
    """`grant` for a requirement of any one of `any_of`."""
    return await grant(context, account_id, Needs(any_of=any_of), field=field)


def holds(principal: Principal, permission: Permission | Needs | None) -> ColumnElement[bool]:
    """SQL: the membership row grants `permission` to this principal (owner: all of them); for a
    `Needs`, any one of its `any_of` and every one of its `all_of`."""
    if permission is None:
        return true()
    if isinstance(permission, Needs):
        return _meets(principal, permission)
    if principal.token_permissions is not None and permission not in principal.token_permissions:
        return false()
    granted = or_(
        Membership.role == MembershipRole.OWNER,
        Membership.permissions.op("&")(permission.bit) != 0,
    )
    if permission not in SCOPED_PERMISSIONS:
        # A scope bounds only service, domain and ticket permissions (DESIGN rule 16).
        if principal.token_scoped:
            return false()
        return and_(not_(Membership.scoped), granted, two_factor_satisfied(principal.user_id))
    return and_(granted, two_factor_satisfied(principal.user_id))


def _meets(principal: Principal, needs: Needs) -> ColumnElement[bool]:
    if needs.all_of:
        return and_(*(holds(principal, p) for p in needs.all_of), _meets(principal, Needs(needs.any_of)))
    if not needs.any_of:
        return true()
    if len(needs.any_of) == 1:
        return holds(principal, needs.any_of[0])
    return or_(*(holds(principal, p) for p in needs.any_of))


def two_factor_enabled(user_id: uuid.UUID) -> Exists:
    """SQL: the user has two-factor sign-in on."""
    return exists().where(TwoFactorCredential.user_id == user_id, TwoFactorCredential.enabled_at.is_not(None))


# The accounts that require two-factor sign-in: few, and read from their partial index once per
# statement. Built once (an alias copies every column of the table, a cost per request otherwise);
# correlated with nothing, so a statement that reads client_accounts itself cannot change it.
_REQUIRING = aliased(ClientAccount)
_REQUIRING_IDS = select(_REQUIRING.id).where(_REQUIRING.require_two_factor.is_(True)).correlate(None)


def two_factor_satisfied(user_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL: the membership's account does not require two-factor sign-in, or the user has it on.

    A list of the few requiring accounts, not a lookup per membership: SQLite looked each of an
    agency's memberships up in the accounts table (0.9 ms of a 1.6 ms count over 1,000 accounts)
    where the list costs one pass over the partial index; PostgreSQL reads it once into an array
    (`NotAmong`)."""
    return or_(two_factor_enabled(user_id), NotAmong(Membership.__table__.c.account_id, _REQUIRING_IDS))


# The statements below depend only on their (hashable, immutable) arguments, and building one takes
# longer than running it: a viewer's next request reuses them, their cache keys already computed.
STATEMENTS_KEPT = 256


# What lists and scoped loaders read of the joined membership (a subquery copies each column).
_JOINED_COLUMNS = (
    Membership.id,
    Membership.account_id,
    Membership.role,
    Membership.permissions,
    Membership.scoped,
)


@lru_cache(maxsize=STATEMENTS_KEPT)
def visible_memberships(
    principal: Principal, permission: Permission | Needs | None = None, *, by_key: bool = False
) -> Subquery:
    """`memberships_of` as a subquery to join lists through, built once per viewer and requirement.

    `by_key`: for a lookup of a few rows by key, joined to the viewer's membership of each row's
    account. SQLite keeps no statistics per value, so it takes any viewer for one with the average
    couple of memberships and would start from the viewer's memberships, probing every looked-up
    key for each of an agency's thousand accounts; here it starts from the keys.
    """
    return memberships_of(principal, permission, by_key=by_key).subquery()


@lru_cache(maxsize=STATEMENTS_KEPT)
def memberships_of(
    principal: Principal, permission: Permission | Needs | None = None, *, by_key: bool = False
) -> Select[Any]:
    """The principal's memberships, narrowed to a token's accounts and to those granting `permission`
    (or meeting the `Needs`).

    Every list of account data joins through this, so nothing outside it can be listed by accident;
    lists of services, domains and tickets add `resolvers.core.reach.within_scope` on its `scoped` and `id`.
    """
    column: ColumnElement[Any] = Membership.__table__.c.user_id
    user_id = NotIndexed(column) if by_key else column
    conditions: list[ColumnElement[bool]] = [
        user_id == principal.user_id,
        holds(principal, permission),
    ]
    if principal.token_account_ids is not None:
        conditions.append(
            Membership.account_id.in_(
                select(ApiTokenAccount.account_id).where(ApiTokenAccount.token_id == principal.credential_id)
            )
        )
    return cast("Select[Any]", select(*_JOINED_COLUMNS).where(and_(*conditions)))


async def require_in_account(context: Context, account_id: uuid.UUID, *any_of: Permission) -> None:
    """The field-level check of InAccount, for fields that may be null before any check applies
    (an order item's service or domain: only items that have one need the permission)."""
    access = await context.access(account_id)
    if access is None or not access.allows(*any_of):
        raise Forbidden(any_of)


class InAccount(BasePermission):
    """Field permission: the viewer holds any one of `any_of` in the account the object belongs to.

    Used on fields of objects already reached through the account, so the viewer is a member;
    a missing permission is FORBIDDEN with `requiredPermissions` (DESIGN rule 7).
    """

    def __init__(self, *any_of: Permission | Needs, account_of: str = "account_pk") -> None:
        needs = [n for n in any_of if isinstance(n, Needs)]
        self.needs = (
            needs[0] if needs else Needs(any_of=tuple(p for p in any_of if isinstance(p, Permission)))
        )
        self.account_of = account_of

    def decide(self, source: Any, info: Info[Context, Any]) -> bool | None:
        """The answer when the viewer's access to the account is already at hand, else None."""
        account_id = getattr(source, self.account_of)
        if account_id is None:
            return True  # nothing of an account to show: the field resolves to null
        known, access = info.context.known_access(account_id)
        if not known:
            return None
        return access is not None and self.needs.met_by(access.permissions)

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        account_id = getattr(source, self.account_of)
        if account_id is None:
            return True  # nothing of an account to show: the field resolves to null
        access = await info.context.access(account_id)
        return access is not None and self.needs.met_by(access.permissions)

    def on_unauthorized(self) -> None:
        raise Forbidden(self.needs.named)


def _check(permission: BasePermission, source: Any, info: Info[Any, Any], kwargs: dict[str, Any]) -> Any:
    """A bool when the permission can answer now, else the awaitable that will."""
    if isinstance(permission, InAccount):
        decided = permission.decide(source, info)
        if decided is not None:
            return decided
    return permission.has_permission(source, info, **kwargs)


def _allowed(permission: BasePermission, answer: Any) -> bool:
    # Only a real boolean decides access, as in Strawberry's own extension.
    if not isinstance(answer, bool):
        if inspect.iscoroutine(answer):
            answer.close()
        raise PermissionReturnedNonBooleanError(permission, answer)
    return answer


class FieldPermissions(PermissionExtension):
    """Strawberry's PermissionExtension, deciding without awaiting when it can.

    Most gated fields belong to objects whose account the request has already checked (a list
    joins the memberships, `account(id:)` reads the access first), so InAccount answers from the
    request's known Access; only an unknown account awaits the access loader. A field with a
    plain resolver then stays synchronous instead of becoming a coroutine on every node.
    """

    @cached_property
    def supports_sync(self) -> bool:
        return True

    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info[Any, Any], **kwargs: Any) -> Any:
        for index, permission in enumerate(self.permissions):
            answer = _check(permission, source, info, kwargs)
            if inspect.isawaitable(answer):
                return self._resolve_later(answer, index, next_, source, info, kwargs)
            if not _allowed(permission, answer):
                return self._on_unauthorized(permission)
        return next_(source, info, **kwargs)

    async def _resolve_later(
        self,
        pending: Awaitable[Any] | None,
        index: int,
        next_: SyncExtensionResolver,
        source: Any,
        info: Info[Any, Any],
        kwargs: dict[str, Any],
    ) -> Any:
        for permission in self.permissions[index:]:
            answer = pending if pending is not None else _check(permission, source, info, kwargs)
            pending = None
            if inspect.isawaitable(answer):
                answer = await answer
            if not _allowed(permission, answer):
                return self._on_unauthorized(permission)
        # A plain resolver may itself hand back an awaitable (a value not fetched ahead).
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        for permission in self.permissions:
            answer = _check(permission, source, info, kwargs)
            if inspect.isawaitable(answer):
                answer = await answer
            if not _allowed(permission, answer):
                return self._on_unauthorized(permission)
        result = next_(source, info, **kwargs)
        if inspect.isasyncgen(result):
            return result
        return await result


def forbidden_error(*any_of: Permission) -> GraphQLError:
    return Forbidden(any_of)
