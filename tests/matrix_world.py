"""The world a permission-matrix case runs in (tests/permission_matrix.toml): the actor, its
credentials, and the two accounts it acts on, built fresh for every case."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow, uuid7
from models.catalogue import BillingCycle, Product
from models.contacts import Contact
from models.database import Database
from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from models.identity import ApiToken, ApiTokenAccount
from models.permissions import ALL_MASK, Permission, to_mask
from models.scopes import MembershipScopeDomain, MembershipScopeService
from models.tickets import Ticket, TicketStatus
from models.users import User
from resolvers.core.credentials import digest, new_api_token, start_session, token_display_prefix
from resolvers.core.settings import Settings

ActorKind = Literal["anonymous", "owner", "member", "stranger", "token"]
Scope = Literal["home", "foreign"]


@dataclass(frozen=True)
class Actor:
    """Who sends the request; `permissions` is what a member holds or a token is narrowed to."""

    name: str
    kind: ActorKind
    permissions: frozenset[Permission] = frozenset()
    # False: the user has never proven their email address (DESIGN rule 13).
    verified: bool = True
    # A token restricted to the home account (with every permission) rather than to permissions.
    home_only: bool = False
    # The actor whose `actors` outcome this one shares when the row does not name it.
    like: str | None = None
    # A member of a home account that requires two-factor sign-in, without it (DESIGN rule 17).
    without_two_factor: bool = False
    # A member limited to a service, a domain and a ticket of home built for it (DESIGN rule 16):
    # the objects a row builds lie outside that scope.
    scoped: bool = False

    @property
    def label(self) -> str:
        if self.kind == "token" and len(self.permissions) == 1:
            (permission,) = self.permissions
            return f"{self.name}({permission.value})"
        return self.name


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def unique_email(stem: str) -> str:
    return f"{unique(stem)}@example.com"


@dataclass
class Team:
    """One account: its owner, and a colleague who is a USER without permissions."""

    account: ClientAccount
    owner: User
    owner_membership: Membership
    colleague: User
    colleague_membership: Membership


@dataclass
class World:
    """Everything one case needs before its documents are sent."""

    home: Team
    foreign: Team
    actor: Actor
    actor_user: User | None = None
    actor_membership: Membership | None = None
    # A session for each of the two runs: some mutations end the session that sent them.
    sessions: list[str] = field(default_factory=list)
    token: str | None = None

    def team(self, scope: Scope) -> Team:
        return self.home if scope == "home" else self.foreign


PASSWORD = "a long enough passphrase"


@lru_cache(maxsize=1)
def _hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism).hash(PASSWORD)


def actor_password_hash(settings: Settings) -> str:
    """One hash of PASSWORD for every actor: hashing it for each of the matrix's cases would be slow."""
    return _hash(settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism)


def add_user(
    session: AsyncSession, stem: str, password_hash: str | None = None, *, verified: bool = True
) -> User:
    user = User(
        id=uuid7(),
        email=unique_email(stem),
        name=stem.title(),
        password_hash=password_hash,
        email_verified_at=utcnow() if verified else None,
    )
    session.add(user)
    return user


def add_account(session: AsyncSession) -> ClientAccount:
    """An account as tests.factories.create_account builds it; `_hold` gives it its owner and contact."""
    account = ClientAccount(
        id=uuid7(),
        name=unique("Account"),
        billing_first_name="Erika",
        billing_last_name="Muster",
        billing_company_name=None,
        billing_email="billing@muster.example",
        billing_phone="+431234567",
        billing_line1="Stephansplatz 1",
        billing_line2=None,
        billing_city="Wien",
        billing_state=None,
        billing_postal_code="1010",
        billing_country_code="AT",
        billing_tax_id=None,
    )
    session.add(account)
    return account


def add_owner(session: AsyncSession, account: ClientAccount, owner: User) -> Membership:
    """The account's owner and primary contact (account and owner already flushed)."""
    session.add(new_contact(account, primary=True))
    return add_membership(session, account, owner, role=MembershipRole.OWNER, mask=ALL_MASK)


def new_contact(account: ClientAccount, *, primary: bool) -> Contact:
    return Contact(
        id=uuid7(),
        account_id=account.id,
        is_primary=primary,
        first_name="Erika",
        last_name="Muster",
        company_name=None,
        email="billing@muster.example",
        phone="+431234567",
        line1="Stephansplatz 1",
        line2=None,
        city="Wien",
        state=None,
        postal_code="1010",
        country_code="AT",
    )


def add_membership(
    session: AsyncSession, account: ClientAccount, user: User, *, role: MembershipRole, mask: int
) -> Membership:
    membership = Membership(id=uuid7(), user_id=user.id, account_id=account.id, role=role, permissions=mask)
    session.add(membership)
    return membership


async def build_world(db: Database, settings: Settings, actor: Actor) -> World:
    """The home and foreign accounts and the actor's credentials, in one unit of work of a few
    multi-row INSERTs."""
    async with db.begin() as session:
        owners = [
            add_user(session, "home-owner", verified=actor.verified),
            add_user(session, "foreign-owner"),
        ]
        colleagues = [add_user(session, "home-colleague"), add_user(session, "foreign-colleague")]
        actor_user = (
            add_user(session, actor.kind, actor_password_hash(settings))
            if actor.kind in {"member", "stranger"}
            else None
        )
        owners[0].password_hash = actor_password_hash(settings)
        await session.flush()
        accounts = [add_account(session), add_account(session)]
        accounts[0].require_two_factor = actor.without_two_factor
        own_account = add_account(session) if actor.kind == "stranger" else None
        await session.flush()
        home, foreign = (
            Team(
                account=account,
                owner=owner,
                owner_membership=add_owner(session, account, owner),
                colleague=colleague,
                colleague_membership=add_membership(
                    session, account, colleague, role=MembershipRole.USER, mask=0
                ),
            )
            for account, owner, colleague in zip(accounts, owners, colleagues, strict=True)
        )
        world = World(home=home, foreign=foreign, actor=actor, actor_user=actor_user)
        if actor.kind == "member":
            assert actor_user is not None
            mask = to_mask(actor.permissions)
            world.actor_membership = add_membership(
                session, home.account, actor_user, role=MembershipRole.USER, mask=mask
            )
            if actor.scoped:
                await add_scope(session, world.actor_membership, home)
        elif own_account is not None:
            assert actor_user is not None
            add_owner(session, own_account, actor_user)
        elif actor.kind in {"owner", "token"}:
            world.actor_user, world.actor_membership = home.owner, home.owner_membership
        if actor.kind == "token" and actor.home_only:
            world.token, token = add_api_token(session, home.owner, None, all_accounts=False)
            await session.flush()
            session.add(ApiTokenAccount(token_id=token.id, account_id=home.account.id))
        elif actor.kind == "token":
            world.token = add_api_token(session, home.owner, actor.permissions)[0]
        elif world.actor_user is not None:
            world.sessions = [start_session(session, settings, world.actor_user.id)[0] for _ in range(2)]
    return world


async def add_scope(session: AsyncSession, membership: Membership, team: Team) -> None:
    """Scopes the membership to a new service and domain of the team's account, and a ticket about it."""
    membership.scoped = True
    await session.flush()
    product = await session.scalar(select(Product).where(Product.key == "webhosting-s"))
    domain_product = await session.scalar(select(Product.id).where(Product.tld == "at", Product.active))
    assert product is not None
    assert domain_product is not None
    primary = await session.scalar(
        select(Contact.id).where(Contact.account_id == team.account.id, Contact.is_primary.is_(True))
    )
    assert primary is not None
    service = Service(
        id=uuid7(),
        account_id=team.account.id,
        product_id=product.id,
        label="www.in-scope.example",
        status=ServiceStatus.ACTIVE,
        billing_cycle=BillingCycle.MONTHLY,
        recurring_amount=Decimal("5.00"),
        currency_code="EUR",
        specifications=[],
    )
    domain = Domain(
        id=uuid7(),
        account_id=team.account.id,
        product_id=domain_product,
        name=f"{unique('in-scope')}.at",
        status=DomainStatus.ACTIVE,
        period_years=1,
        nameservers=["ns1.example.net", "ns2.example.net"],
        registrant_contact_id=primary,
        admin_contact_id=primary,
        tech_contact_id=primary,
        billing_contact_id=primary,
    )
    session.add_all([service, domain])
    await session.flush()
    ticket = Ticket(
        id=uuid7(),
        account_id=team.account.id,
        number=unique("T")[:20],
        subject="In scope",
        department="Support",
        status=TicketStatus.OPEN,
        opened_by_id=team.owner.id,
        service_id=service.id,
    )
    session.add_all(
        [
            ticket,
            MembershipScopeService(owner_id=membership.id, service_id=service.id),
            MembershipScopeDomain(owner_id=membership.id, domain_id=domain.id),
        ]
    )


def add_api_token(
    session: AsyncSession, user: User, permissions: frozenset[Permission] | None, *, all_accounts: bool = True
) -> tuple[str, ApiToken]:
    secret = new_api_token()
    token = ApiToken(
        id=uuid7(),
        user_id=user.id,
        name="matrix",
        prefix=token_display_prefix(secret),
        token_hash=digest(secret),
        all_accounts=all_accounts,
        permissions=None if permissions is None else to_mask(permissions),
        # Recently used: its first request then writes no last-use time, as any later one would not.
        last_used_at=utcnow(),
    )
    session.add(token)
    return secret, token
