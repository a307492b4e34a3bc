"""Account owners: their loader, and the owners brought along in the statement that reads their
accounts (a page of accounts, a batch of the accounts a page points at) instead of one after it.

An owner is read whatever the viewer, as `loaders.user` reads users: a user is shown only through
`seen_user` (DESIGN rule 10), and an account only once the viewer's access to it was read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Subquery, and_, select
from sqlalchemy.orm import aliased

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import columns_of, stored, stored_then_rest
from models.users import User
from resolvers.core.dialects import among_keys
from resolvers.core.loaders import Loader

if TYPE_CHECKING:
    from resolvers.core.context import Context

_OWNERS = (
    select(Membership.account_id, *columns_of(User))
    .join(User, User.id == Membership.user_id)
    .where(among_keys(Membership.account_id), Membership.role == MembershipRole.OWNER)
)


class OwnerByAccountIdLoader(Loader[uuid.UUID, User]):
    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, User]:
        make = stored(User)
        rows = await self.context.db.rows(_OWNERS, {"keys": list(keys)})
        owners: dict[uuid.UUID, Any] = {row[0]: make(row[1:]) for row in rows}
        for user in owners.values():
            self.context.loaders.user.prime(user.id, user)
        return owners


def with_owners(statement: Select[Any], account_id: Any) -> Select[Any]:
    """`statement` with, after its columns, those of the owner of the account `account_id` names
    (`prime_owner` takes them): the owner comes in the rows that hold the account rather than in a
    statement after them. An account without an owner gets nulls."""
    owner, user = aliased(Membership), aliased(User)
    return (
        statement.outerjoin(owner, and_(owner.account_id == account_id, owner.role == MembershipRole.OWNER))
        .outerjoin(user, user.id == owner.user_id)
        .add_columns(*(getattr(user, column.key) for column in columns_of(User)))
    )


def owners_around(page: Subquery) -> Select[Any]:
    """A page of accounts (`paginate`'s `around`; the account's ID its `id`) with each account's
    owner after its columns: joined to the page's accounts, not to every account it was cut from."""
    return with_owners(select(page), page.c.id)


def prime_owner(context: Context, account_id: uuid.UUID, columns: Sequence[Any]) -> None:
    """Primes `loaders.owner` (and `loaders.user`) with the owner's columns `with_owners` added."""
    owner = stored(User)(columns)
    if owner.id is not None:
        context.loaders.owner.prime(account_id, owner)
        context.loaders.user.prime(owner.id, owner)


_ACCOUNTS_WITH_OWNERS = with_owners(
    select(*columns_of(ClientAccount)).where(among_keys(ClientAccount.id)), ClientAccount.id
)


class ClientAccountByIdLoader(Loader[uuid.UUID, ClientAccount]):
    """Any account by ID (reached only once the viewer's access to it was read), each with its
    owner, which primes `loaders.owner`: a page that shows the accounts its rows point at and
    their owners reads both in one statement, and every such read of a request in one batch."""

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, ClientAccount]:
        rows = await self.context.db.rows(_ACCOUNTS_WITH_OWNERS, {"keys": list(keys)})
        split = stored_then_rest(ClientAccount)
        found: dict[uuid.UUID, ClientAccount] = {}
        for row in rows:
            account, owner = split(row)
            found[account.id] = account
            prime_owner(self.context, account.id, owner)
        return found
