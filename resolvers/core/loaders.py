"""Per-request loaders: every to-one and to-many lookup of a request is batched into one statement.

Every loader derives from `Loader`. A lookup of account data by ID or by key that serves a viewer
goes through a `ScopedLoader`: its one statement joins the viewer's memberships (`memberships_of`:
membership, token narrowing and, for services, domains and tickets, the scope), so a row of an
account the viewer cannot reach comes back missing from the same single statement as a row that
does not exist (DESIGN rule 6). The same statement reads the viewer's standing in the row's account
and primes `loaders.access` with it, so the permission check after it costs nothing either.

`ById` reads any row whatever the viewer: users (whose visibility `SeenUserLoader` decides); the
account loader (resolvers/core/owners.py) reads any account with its owner, reached only after the
viewer's access to it was read. Staff commands and jobs, which
have no viewer, read with their own sessions.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    exists,
    false,
    or_,
    select,
)

from models.accounts import ClientAccount, Membership, MembershipRole
from models.audit import AuditEvent
from models.base import columns_of, stored, stored_then_rest
from models.contacts import Contact
from models.hosting import Domain, Service
from models.identity import ApiTokenAccount
from models.invitations import Invitation
from models.permissions import from_mask
from models.users import User
from resolvers.core.dialects import among_keys
from resolvers.core.permissions import STATEMENTS_KEPT, two_factor_enabled, visible_memberships
from resolvers.core.principal import Access

if TYPE_CHECKING:
    from resolvers.core.context import Context
    from resolvers.core.principal import Principal
    from resolvers.core.reach import Kind

K = TypeVar("K")
V = TypeVar("V")


class Loader(DataLoader[K, V], Generic[K, V]):
    """One statement per batch of keys: `fetch` finds what exists, a key it did not find gets `missing()`."""

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context

    def known(self, key: K) -> tuple[bool, V | None]:
        """(True, value) when this request has already loaded or primed `key`; (False, None) when
        only `load` can tell. Lets a field read what is in hand without a round through the loop."""
        future = self._cache.get(self.get_cache_key(key)) if self.cache else None
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return False, None
        return True, future.result()

    def missing(self) -> V:
        """The value of a key nothing was found for (None; an empty list for a to-many loader)."""
        return None  # type: ignore[return-value]

    async def fetch(self, keys: Sequence[K]) -> Mapping[K, V]:
        raise NotImplementedError

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        found = await self.fetch(keys)
        return [found[key] if key in found else self.missing() for key in keys]


class GroupLoader(Loader[K, list[V]]):
    """A to-many loader: the rows of `statement(keys)` grouped by `owner(row)`, each group `ordered`."""

    def missing(self) -> list[V]:
        return []

    def statement(self, keys: Sequence[K]) -> Select[Any]:
        raise NotImplementedError

    def owner(self, row: V) -> K:
        raise NotImplementedError

    def ordered(self, rows: list[V]) -> list[V]:
        return rows

    async def fetch(self, keys: Sequence[K]) -> Mapping[K, list[V]]:
        grouped: dict[K, list[V]] = defaultdict(list)
        async with self.context.db.read() as session:
            for row in await session.scalars(self.statement(keys)):
                grouped[self.owner(row)].append(row)
        return {key: self.ordered(rows) for key, rows in grouped.items()}


class ById(Loader[uuid.UUID, V]):
    """Any row of `model` by ID, whoever asks: only for what is not account data or already checked."""

    model: Any

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, V]:
        make = stored(self.model)
        rows = await self.context.db.rows(_by_id(self.model), {"keys": list(keys)})
        return {row.id: make(row) for row in rows}


@cache
def _by_id(model: Any) -> Select[Any]:
    columns = columns_of(model)
    statement: Select[Any] = select(*columns).where(among_keys(model.__table__.c.id))
    return statement


def access_of(
    principal: Principal,
    account_id: uuid.UUID,
    membership_id: uuid.UUID,
    role: MembershipRole,
    mask: int,
    scoped: bool,
    required: bool,
    enabled: bool,
) -> Access:
    """The viewer's Access from their membership's columns, however the statement read them."""
    return Access.of(
        principal,
        account_id=account_id,
        membership_id=membership_id,
        role=role,
        granted=from_mask(mask),
        two_factor_required=required and not enabled,
        scoped=scoped,
    )


class ScopedLoader(Loader[uuid.UUID, V]):
    """Rows of `model` by `key` (its ID unless said otherwise), only in accounts the viewer reaches.

    One statement, joined through the viewer's memberships: another account's row is missing just
    as a row that does not exist. The membership's columns come along and prime `loaders.access`.
    """

    model: Any
    key: str = "id"
    # Services, domains and tickets: a scoped member reaches only what lies in the scope (rule 16).
    scope: Kind | None = None
    subject: str = "id"
    # Also rows of accounts the viewer is no member of, when `beyond` allows them (invitations).
    outer: bool = False

    @classmethod
    def where(cls) -> list[ColumnElement[bool]]:
        """Further conditions on the rows."""
        return []

    @classmethod
    def beyond(cls, principal: Principal) -> ColumnElement[bool]:
        """With `outer`: which rows of accounts the viewer is not a member of they see too."""
        return false()

    @classmethod
    def statement(cls, principal: Principal) -> Select[Any]:
        """The loader's statement for this viewer, its keys bound as `keys` when it runs."""
        model = cls.model
        memberships: Subquery = visible_memberships(principal, by_key=True)
        conditions = [among_keys(getattr(model, cls.key)), *cls.where()]
        reached: ColumnElement[bool] = memberships.c.id.is_not(None)
        if cls.scope is not None:
            from resolvers.core.reach import within_scope

            subject = getattr(model, cls.subject)
            # A service or domain loader's subject is its own row (`covers`).
            itself = model if cls.subject == "id" and model in (Service, Domain) else None
            reached = and_(
                reached, within_scope(principal, cls.scope, memberships, subject_id=subject, row=itself)
            )
        conditions.append(or_(reached, cls.beyond(principal)) if cls.outer else reached)
        statement: Select[Any] = (
            select(
                *columns_of(model),
                memberships.c.id,
                memberships.c.role,
                memberships.c.permissions,
                memberships.c.scoped,
                ClientAccount.require_two_factor,
                two_factor_enabled(principal.user_id),
            )
            .join(memberships, memberships.c.account_id == model.account_id, isouter=cls.outer)
            .join(ClientAccount, ClientAccount.id == model.account_id)
            .where(*conditions)
        )
        return statement

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, V]:
        principal = self.context.principal
        if principal is None:
            return {}
        statement = _scoped(cast(Hashable, type(self)), principal)
        found: dict[uuid.UUID, V] = {}
        access = self.context.loaders.access
        rows = await self.context.db.rows(statement, {"keys": list(keys)})
        # Each row holds the model's columns (`columns_of`), then the viewer's membership's.
        split = stored_then_rest(self.model)
        for row in rows:
            item, (membership_id, role, mask, scoped, required, enabled) = split(row)
            found[getattr(item, self.key)] = item
            account_id = item.account_id
            if membership_id is None:
                access.prime(account_id, None)
            else:
                access.prime(
                    account_id,
                    access_of(principal, account_id, membership_id, role, mask, scoped, required, enabled),
                )
        return found


@lru_cache(maxsize=STATEMENTS_KEPT)
def _scoped(loader: Hashable, principal: Principal) -> Select[Any]:
    """A ScopedLoader class's statement for this viewer."""
    return cast(type[ScopedLoader[Any]], loader).statement(principal)


class UserByIdLoader(ById[User]):
    model = User


class AccessByAccountIdLoader(Loader[uuid.UUID, Access | None]):
    """The viewer's memberships, read once per request for the accounts the request touches; the
    accounts come along and prime `loaders.account`."""

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, Access | None]:
        principal = self.context.principal
        assert principal is not None
        rows = await self.context.db.rows(_access(principal.user_id), {"keys": list(keys)})
        found: dict[uuid.UUID, Access | None] = {}
        # Each row holds the account's columns (`columns_of`), then the membership's.
        split = stored_then_rest(ClientAccount)
        for row in rows:
            account, (membership_id, role, mask, scoped, enabled) = split(row)
            if not principal.covers(account.id):
                continue
            self.context.loaders.account.prime(account.id, account)
            found[account.id] = access_of(
                principal, account.id, membership_id, role, mask, scoped, account.require_two_factor, enabled
            )
        return found


@lru_cache(maxsize=STATEMENTS_KEPT)
def _access(user_id: uuid.UUID) -> Select[Any]:
    """The user's memberships (with their accounts) among the batch's accounts."""
    return cast(
        Select[Any],
        select(
            *columns_of(ClientAccount),
            Membership.id,
            Membership.role,
            Membership.permissions,
            Membership.scoped,
            two_factor_enabled(user_id),
        )
        .join(ClientAccount, ClientAccount.id == Membership.account_id)
        .where(Membership.user_id == user_id, among_keys(Membership.account_id)),
    )


class AccountIdsByApiTokenLoader(Loader[uuid.UUID, list[uuid.UUID]]):
    def missing(self) -> list[uuid.UUID]:
        return []

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, list[uuid.UUID]]:
        statement = (
            select(ApiTokenAccount.token_id, ApiTokenAccount.account_id)
            .where(ApiTokenAccount.token_id.in_(keys))
            .order_by(ApiTokenAccount.account_id)
        )
        grouped: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        async with self.context.db.read() as session:
            for token_id, account_id in await session.execute(statement):
                grouped[token_id].append(account_id)
        return grouped


class MembershipByIdLoader(ScopedLoader[Membership]):
    """A membership of an account the viewer is a member of (their own among them)."""

    model = Membership


class InvitationByIdLoader(ScopedLoader[Invitation]):
    """An invitation of an account the viewer is a member of, or one sent to the viewer's proven
    address when they act without a restricted token (as Viewer.pendingInvitations, rules 13, 14)."""

    model = Invitation
    outer = True

    @classmethod
    def beyond(cls, principal: Principal) -> ColumnElement[bool]:
        if principal.restricted:
            return false()
        verified = exists().where(User.id == principal.user_id, User.email_verified_at.is_not(None))
        return and_(Invitation.email == principal.email, verified)


class AuditEventByIdLoader(ScopedLoader[AuditEvent]):
    model = AuditEvent


class ContactByIdLoader(ScopedLoader[Contact]):
    model = Contact


class ServiceByIdLoader(ScopedLoader[Service]):
    """A service outside the viewer's scope loads as missing (DESIGN rule 16)."""

    model = Service
    scope = "service"


class DomainByIdLoader(ScopedLoader[Domain]):
    """A domain outside the viewer's scope loads as missing (DESIGN rule 16)."""

    model = Domain
    scope = "domain"
