"""Scopes (DESIGN rule 16): the SQL that keeps a scoped member, or a scoped token, inside its
services and domains, and the loaders that show a scope.

Every list and every lookup by ID of services, domains and tickets applies `within_scope` on the
viewer's memberships it joins (lists through `memberships_of`, lookups by ID through the scoped
loaders of resolvers/loaders.py), so what lies outside a scope runs the same SQL as another
account's data and is NOT_FOUND the same way.

A service or domain counts as in a scope only while it is live and still belongs to the scope's
account: one that ends (terminated, cancelled) or moves to another account leaves every scope at
once, whichever way it left, without a write to each scope.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import aliased

from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from models.scopes import (
    ApiTokenScopeDomain,
    ApiTokenScopeService,
    InvitationScopeDomain,
    InvitationScopeService,
    MembershipScopeDomain,
    MembershipScopeService,
)
from resolvers.loaders import Loader

if TYPE_CHECKING:
    from resolvers.core.context import Context, Principal

ENDED_SERVICES = (ServiceStatus.TERMINATED, ServiceStatus.CANCELLED)
ENDED_DOMAINS = (DomainStatus.CANCELLED,)

Kind = Literal["service", "domain"]
ServiceLink = type[MembershipScopeService] | type[InvitationScopeService] | type[ApiTokenScopeService]
DomainLink = type[MembershipScopeDomain] | type[InvitationScopeDomain] | type[ApiTokenScopeDomain]


@dataclass(frozen=True)
class ScopeTables:
    """Where one kind of owner (membership, invitation, API token) keeps its scope."""

    services: ServiceLink
    domains: DomainLink


MEMBERSHIP_SCOPE = ScopeTables(MembershipScopeService, MembershipScopeDomain)
INVITATION_SCOPE = ScopeTables(InvitationScopeService, InvitationScopeDomain)
API_TOKEN_SCOPE = ScopeTables(ApiTokenScopeService, ApiTokenScopeDomain)


# Built once: an alias copies every column of its table, which cost more per request than the rest
# of the condition. Sharing one is safe, as each EXISTS lists it in its own FROM (correlate_except).
_LIVE_SERVICE = aliased(Service)
_LIVE_DOMAIN = aliased(Domain)


def covers(
    tables: ScopeTables,
    kind: Kind,
    *,
    owner_id: Any,
    subject_id: Any,
    account_id: Any,
) -> ColumnElement[bool]:
    """SQL: the owner's scope holds the live service (or domain) `subject_id` of `account_id`.

    An EXISTS rather than IN, so a NULL subject (a ticket about no service) is simply not covered.
    It correlates with every enclosing query, not only the next one: `reachable` nests it two deep.
    """
    if kind == "service":
        service_link = tables.services
        live_service = _LIVE_SERVICE
        return (
            exists()
            .where(
                service_link.owner_id == owner_id,
                service_link.service_id == subject_id,
                live_service.id == service_link.service_id,
                live_service.account_id == account_id,
                live_service.status.not_in(ENDED_SERVICES),
            )
            .correlate_except(service_link, live_service)
        )
    domain_link = tables.domains
    live_domain = _LIVE_DOMAIN
    return (
        exists()
        .where(
            domain_link.owner_id == owner_id,
            domain_link.domain_id == subject_id,
            live_domain.id == domain_link.domain_id,
            live_domain.account_id == account_id,
            live_domain.status.not_in(ENDED_DOMAINS),
        )
        .correlate_except(domain_link, live_domain)
    )


def _token_covers(
    principal: Principal, kind: Kind, subject_id: Any, account_id: Any
) -> list[ColumnElement[bool]]:
    if not principal.token_scoped:
        return []
    return [
        covers(
            API_TOKEN_SCOPE,
            kind,
            owner_id=principal.credential_id,
            subject_id=subject_id,
            account_id=account_id,
        )
    ]


def within_scope(
    principal: Principal, kind: Kind, memberships: Any, *, subject_id: Any
) -> ColumnElement[bool]:
    """SQL for a list joined through `memberships_of(...).subquery()`: the subject lies in the scope of
    the joined membership (when it has one) and of the principal's token (when it has one)."""
    membership = or_(
        not_(memberships.c.scoped),
        covers(
            MEMBERSHIP_SCOPE,
            kind,
            owner_id=memberships.c.id,
            subject_id=subject_id,
            account_id=memberships.c.account_id,
        ),
    )
    return and_(membership, *_token_covers(principal, kind, subject_id, memberships.c.account_id))


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
