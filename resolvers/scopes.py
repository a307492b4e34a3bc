"""Choosing and changing a scope (DESIGN rule 16): checking the services and domains asked for,
storing them for a membership, invitation or API token, and `updateMemberScope`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Uuid, delete, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import Membership, MembershipRole
from models.catalogue import Product
from models.hosting import Domain, Service
from models.permissions import SCOPED_PERMISSIONS, Permission, from_mask
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import Problem, Rejected, UserErrorCode, forbidden, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.loaders import Loader
from resolvers.core.policies import MEMBERSHIP
from resolvers.core.principal import Access
from resolvers.core.reach import (
    API_TOKEN_SCOPE,
    ENDED_DOMAINS,
    ENDED_SERVICES,
    INVITATION_SCOPE,
    MEMBERSHIP_SCOPE,
    ScopeTables,
)

# More than any one agency maintains for one customer; a bound on the work one request causes.
MAX_SCOPE_ITEMS = 100
SCOPE_PATH = ("input", "scope")


@dataclass(frozen=True)
class ScopeRequest:
    """A decoded MembershipScopeInput: None for a well-formed ID of another type (NOT_FOUND later)."""

    service_ids: list[uuid.UUID | None]
    domain_ids: list[uuid.UUID | None]


@dataclass(frozen=True)
class ChosenScope:
    """Services and domains checked to be live and within the actor's reach."""

    service_ids: list[uuid.UUID]
    domain_ids: list[uuid.UUID]


def require_scoped_permissions(
    permissions: Iterable[Permission], path: tuple[str, ...] = ("input", "permissions")
) -> None:
    """A scoped member or token holds only service, domain and ticket permissions."""
    others = sorted(p.value for p in set(permissions) - SCOPED_PERMISSIONS)
    if others:
        raise reject(
            "A member limited to chosen services and domains can hold only service, domain and "
            f"ticket permissions; not {', '.join(others)}.",
            UserErrorCode.INVALID,
            *path,
        )


async def choose_scope(
    context: Context, request: ScopeRequest, *, account_ids: frozenset[uuid.UUID] | None
) -> ChosenScope:
    """The live services and domains asked for, each reachable by the viewer (so never wider than
    the viewer's own scope) and of one of `account_ids` (None: any account the viewer reaches).

    Anything else is NOT_FOUND at its index, the same for a missing ID and another account's.
    """
    if not request.service_ids and not request.domain_ids:
        raise reject("Name at least one service or domain.", UserErrorCode.INVALID, *SCOPE_PATH)
    # One batched lookup each, through the loaders that apply the viewer's own scope.
    found_services = await context.loaders.service.load_many([pk for pk in request.service_ids if pk])
    found_domains = await context.loaders.domain.load_many([pk for pk in request.domain_ids if pk])
    services_by_id = {row.id: row for row in found_services if row is not None}
    domains_by_id = {row.id: row for row in found_domains if row is not None}
    services = [services_by_id.get(pk) if pk else None for pk in request.service_ids]
    domains = [domains_by_id.get(pk) if pk else None for pk in request.domain_ids]
    problems: list[Problem] = []
    chosen = ChosenScope([], [])

    async def keep(
        row: Service | Domain | None, ended: bool, field: str, index: int, into: list[uuid.UUID]
    ) -> None:
        in_reach = (
            row is not None
            and not ended
            and (account_ids is None or row.account_id in account_ids)
            and await context.access(row.account_id) is not None
        )
        if row is None or not in_reach:
            problems.append(Problem("Not found.", UserErrorCode.NOT_FOUND, (*SCOPE_PATH, field, str(index))))
        elif row.id not in into:
            into.append(row.id)

    for index, service in enumerate(services):
        ended = service is not None and service.status in ENDED_SERVICES
        await keep(service, ended, "serviceIds", index, chosen.service_ids)
    for index, domain in enumerate(domains):
        ended = domain is not None and domain.status in ENDED_DOMAINS
        await keep(domain, ended, "domainIds", index, chosen.domain_ids)
    if problems:
        raise Rejected(problems)
    return chosen


async def write_scope(
    session: AsyncSession, tables: ScopeTables, owner_id: uuid.UUID, scope: ChosenScope | None
) -> None:
    """Replaces the owner's scope items; the caller sets the owner's `scoped` flag to match."""
    await session.execute(delete(tables.services).where(tables.services.owner_id == owner_id))
    await session.execute(delete(tables.domains).where(tables.domains.owner_id == owner_id))
    if scope is None:
        return
    if scope.service_ids:
        await session.execute(
            insert(tables.services), [{"owner_id": owner_id, "service_id": pk} for pk in scope.service_ids]
        )
    if scope.domain_ids:
        await session.execute(
            insert(tables.domains), [{"owner_id": owner_id, "domain_id": pk} for pk in scope.domain_ids]
        )


async def copy_scope(
    session: AsyncSession,
    source: ScopeTables,
    source_id: uuid.UUID,
    target: ScopeTables,
    target_id: uuid.UUID,
) -> None:
    """Gives the target owner the source's scope items (an invitation's to the membership it creates)."""
    await session.execute(
        insert(target.services).from_select(
            ["owner_id", "service_id"],
            select(literal(target_id, Uuid()), source.services.service_id).where(
                source.services.owner_id == source_id
            ),
        )
    )
    await session.execute(
        insert(target.domains).from_select(
            ["owner_id", "domain_id"],
            select(literal(target_id, Uuid()), source.domains.domain_id).where(
                source.domains.owner_id == source_id
            ),
        )
    )


async def scope_names(
    session: AsyncSession, tables: ScopeTables, owner_id: uuid.UUID, account_id: uuid.UUID
) -> list[str]:
    """The labels (or product names) of the live services and the names of the live domains in scope."""
    services = await session.scalars(
        select(Service.label, Product.name)
        .join(tables.services, tables.services.service_id == Service.id)
        .join(Product, Product.id == Service.product_id)
        .where(
            tables.services.owner_id == owner_id,
            Service.account_id == account_id,
            Service.status.not_in(ENDED_SERVICES),
        )
        .order_by(Service.id)
    )
    domains = await session.scalars(
        select(Domain.name)
        .join(tables.domains, tables.domains.domain_id == Domain.id)
        .where(
            tables.domains.owner_id == owner_id,
            Domain.account_id == account_id,
            Domain.status.not_in(ENDED_DOMAINS),
        )
        .order_by(Domain.id)
    )
    return [*services, *domains]


async def update_member_scope(
    context: Context, target: Membership, access: Access, *, request: ScopeRequest | None
) -> Membership:
    """Limits a member to chosen services and domains (or, with None, gives them the whole account).

    `access` is the viewer's in the membership's account, holding MEMBERSHIP's "scope" action. Only
    an unscoped member may: a scoped one must not widen anyone's reach, their own included.
    """
    if access.scoped:
        raise forbidden(MEMBERSHIP.action("scope").named)
    if target.role is MembershipRole.OWNER:
        raise reject(
            "The owner reaches the whole account; their membership cannot be limited.",
            UserErrorCode.OWNER_REQUIRED,
            "input",
            "membershipId",
        )
    chosen = None
    if request is not None:
        require_scoped_permissions(from_mask(target.permissions), SCOPE_PATH)
        chosen = await choose_scope(context, request, account_ids=frozenset({target.account_id}))
    async with context.db.begin() as session:
        row = await session.get(Membership, target.id, with_for_update=True, populate_existing=True)
        if row is None:
            raise not_found("input", "membershipId")
        if chosen is not None:
            # Checked again under the lock: a concurrent permission change must not slip past it.
            require_scoped_permissions(from_mask(row.permissions), SCOPE_PATH)
        row.scoped = chosen is not None
        await write_scope(session, MEMBERSHIP_SCOPE, row.id, chosen)
        record(
            session,
            context,
            "membership.scope_changed",
            account_id=row.account_id,
            subject_id=encode_id("Membership", row.id),
        )
    context.loaders.membership.clear(row.id).prime(row.id, row)
    context.loaders.access.clear(row.account_id)
    context.loaders.scopes.membership.clear(row.id)
    return row


@dataclass(frozen=True)
class ScopeItems:
    services: list[Service]
    domains: list[Domain]

    def within(self, account_id: uuid.UUID) -> ScopeItems:
        """Only what still belongs to the account: a service or domain that moved away left the scope."""
        return ScopeItems(
            [s for s in self.services if s.account_id == account_id],
            [d for d in self.domains if d.account_id == account_id],
        )

    def __and__(self, other: ScopeItems) -> ScopeItems:
        service_ids = {s.id for s in other.services}
        domain_ids = {d.id for d in other.domains}
        return ScopeItems(
            [s for s in self.services if s.id in service_ids],
            [d for d in self.domains if d.id in domain_ids],
        )


class ScopeItemsLoader(Loader[uuid.UUID, ScopeItems]):
    """Owner ID → the live services and domains in its scope; two statements for every scope a
    request shows."""

    def __init__(self, context: Context, tables: ScopeTables) -> None:
        super().__init__(context)
        self.tables = tables

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, ScopeItems]:
        service_link, domain_link = self.tables.services, self.tables.domains
        services: dict[uuid.UUID, list[Service]] = defaultdict(list)
        domains: dict[uuid.UUID, list[Domain]] = defaultdict(list)
        async with self.context.db.read() as session:
            service_rows = await session.execute(
                select(service_link.owner_id, Service)
                .join(Service, Service.id == service_link.service_id)
                .where(service_link.owner_id.in_(keys), Service.status.not_in(ENDED_SERVICES))
                .order_by(Service.id)
            )
            for owner, service_row in service_rows:
                services[owner].append(service_row)
            domain_rows = await session.execute(
                select(domain_link.owner_id, Domain)
                .join(Domain, Domain.id == domain_link.domain_id)
                .where(domain_link.owner_id.in_(keys), Domain.status.not_in(ENDED_DOMAINS))
                .order_by(Domain.id)
            )
            for owner, domain_row in domain_rows:
                domains[owner].append(domain_row)
        return {key: ScopeItems(services[key], domains[key]) for key in keys}


class ScopeLoaders:
    def __init__(self, context: Context) -> None:
        self.membership = ScopeItemsLoader(context, MEMBERSHIP_SCOPE)
        self.invitation = ScopeItemsLoader(context, INVITATION_SCOPE)
        self.api_token = ScopeItemsLoader(context, API_TOKEN_SCOPE)


async def viewer_scope(context: Context, account_id: uuid.UUID) -> ScopeItems | None:
    """What the viewer reaches in the account when scoped (by membership, token or both); None: all."""
    principal = context.principal
    access = await context.access(account_id)
    if principal is None or access is None or not access.scoped:
        return None
    loaders = context.loaders.scopes
    membership = await context.loaders.membership.load(access.membership_id)
    scope: ScopeItems | None = None
    if membership is not None and membership.scoped:
        scope = (await loaders.membership.load(membership.id)).within(account_id)
    if principal.token_scoped:
        token_scope = (await loaders.api_token.load(principal.credential_id)).within(account_id)
        scope = token_scope if scope is None else scope & token_scope
    return scope
