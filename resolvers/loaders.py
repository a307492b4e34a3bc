"""Per-request loaders: every to-one and to-many lookup of a request is batched into one statement."""

from __future__ import annotations

import uuid
from asyncio import Future
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, select

from models.accounts import ClientAccount, Membership, MembershipRole
from models.auth import ApiTokenAccount
from models.contacts import Contact
from models.hosting import Domain, Service
from models.invitations import Invitation
from models.permissions import from_mask
from models.users import User
from resolvers.affiliates import AffiliateLoaders
from resolvers.catalogue import CatalogueLoaders
from resolvers.contacts import PrimaryContactByAccountIdLoader
from resolvers.invoices import BillingLoaders
from resolvers.permissions import two_factor_enabled
from resolvers.scopes import ScopeLoaders, reachable
from resolvers.tickets import TicketLoaders
from resolvers.users import SeenUserLoader

if TYPE_CHECKING:
    from resolvers.context import Access, Context

M = TypeVar("M", ClientAccount, Membership, User, Invitation, Contact, Service, Domain)


class _ByIdLoader(DataLoader[uuid.UUID, M | None], Generic[M]):
    model: type[M]

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context

    def reach(self) -> ColumnElement[bool] | None:
        """A further condition on the rows the viewer may load (None: every row)."""
        return None

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[M | None]:
        statement = select(self.model).where(self.model.id.in_(keys))
        reach = self.reach()
        if reach is not None:
            statement = statement.where(reach)
        async with self.context.db.read() as session:
            rows = await session.scalars(statement)
            found: dict[uuid.UUID, Any] = {row.id: row for row in rows}
        return [found.get(key) for key in keys]


class UserByIdLoader(_ByIdLoader[User]):
    model = User


class ClientAccountByIdLoader(_ByIdLoader[ClientAccount]):
    model = ClientAccount


class MembershipByIdLoader(_ByIdLoader[Membership]):
    model = Membership


class InvitationByIdLoader(_ByIdLoader[Invitation]):
    model = Invitation


class ContactByIdLoader(_ByIdLoader[Contact]):
    model = Contact


class ServiceByIdLoader(_ByIdLoader[Service]):
    """A service outside the viewer's scope loads as missing (DESIGN rule 16)."""

    model = Service

    def reach(self) -> ColumnElement[bool] | None:
        return reachable(
            self.context.principal, "service", subject_id=Service.id, account_id=Service.account_id
        )


class DomainByIdLoader(_ByIdLoader[Domain]):
    """A domain outside the viewer's scope loads as missing (DESIGN rule 16)."""

    model = Domain

    def reach(self) -> ColumnElement[bool] | None:
        return reachable(self.context.principal, "domain", subject_id=Domain.id, account_id=Domain.account_id)


class OwnerByAccountIdLoader(DataLoader[uuid.UUID, User]):
    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[User]:
        statement = (
            select(Membership.account_id, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.account_id.in_(keys), Membership.role == MembershipRole.OWNER)
        )
        async with self.context.db.read() as session:
            result = await session.execute(statement)
            owners: dict[uuid.UUID, User] = {row[0]: row[1] for row in result}
        for user in owners.values():
            self.context.loaders.user.prime(user.id, user)
        return [owners[key] for key in keys]


class AccessByAccountIdLoader(DataLoader[uuid.UUID, "Access | None"]):
    """The viewer's memberships, read once per request for the accounts the request touches."""

    def __init__(self, context: Context) -> None:
        self._futures: dict[uuid.UUID, Future[Access | None]] = {}
        super().__init__(cache_map=self._futures)
        self.context = context

    def known(self, key: uuid.UUID) -> tuple[bool, Access | None]:
        """(True, access) when this request has already read or primed it; (False, None) when
        only `load` can tell. Lets field checks on every node skip a round through the loop."""
        future = self._futures.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return False, None
        return True, future.result()

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Access | None]:
        from resolvers.context import Access

        principal = self.context.principal
        assert principal is not None
        statement = (
            select(Membership, ClientAccount.require_two_factor, two_factor_enabled(principal.user_id))
            .join(ClientAccount, ClientAccount.id == Membership.account_id)
            .where(Membership.user_id == principal.user_id, Membership.account_id.in_(keys))
        )
        async with self.context.db.read() as session:
            rows = {row[0].account_id: row for row in await session.execute(statement)}
        result: list[Access | None] = []
        for key in keys:
            row = rows.get(key)
            if row is None or not principal.covers(key):
                result.append(None)
                continue
            membership, required, enabled = row
            result.append(
                Access.of(
                    principal,
                    account_id=key,
                    membership_id=membership.id,
                    role=membership.role,
                    granted=from_mask(membership.permissions),
                    two_factor_required=required and not enabled,
                    scoped=membership.scoped,
                )
            )
        return result


class AccountIdsByApiTokenLoader(DataLoader[uuid.UUID, list[uuid.UUID]]):
    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[list[uuid.UUID]]:
        statement = (
            select(ApiTokenAccount.token_id, ApiTokenAccount.account_id)
            .where(ApiTokenAccount.token_id.in_(keys))
            .order_by(ApiTokenAccount.account_id)
        )
        grouped: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        async with self.context.db.read() as session:
            for token_id, account_id in await session.execute(statement):
                grouped[token_id].append(account_id)
        return [grouped[key] for key in keys]


class Loaders:
    def __init__(self, context: Context) -> None:
        self.access = AccessByAccountIdLoader(context)
        self.user = UserByIdLoader(context)
        self.seen_user = SeenUserLoader(context)
        self.account = ClientAccountByIdLoader(context)
        self.membership = MembershipByIdLoader(context)
        self.invitation = InvitationByIdLoader(context)
        self.contact = ContactByIdLoader(context)
        self.primary_contact = PrimaryContactByAccountIdLoader(context)
        self.service = ServiceByIdLoader(context)
        self.domain = DomainByIdLoader(context)
        self.billing = BillingLoaders(context)
        self.owner = OwnerByAccountIdLoader(context)
        self.token_accounts = AccountIdsByApiTokenLoader(context)
        self.catalogue = CatalogueLoaders(context)
        self.affiliates = AffiliateLoaders(context)
        self.tickets = TicketLoaders(context)
        self.scopes = ScopeLoaders(context)
