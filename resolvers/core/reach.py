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

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, not_, or_, select
from sqlalchemy.orm import aliased

from models.base import columns_of
from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from models.scopes import (
    ApiTokenScopeDomain,
    ApiTokenScopeService,
    InvitationScopeDomain,
    InvitationScopeService,
    MembershipScopeDomain,
    MembershipScopeService,
)
from resolvers.core.pagination import bound_filters
from resolvers.core.permissions import visible_memberships
from resolvers.core.policies import Needs

if TYPE_CHECKING:
    from resolvers.core.principal import Principal

ENDED_SERVICES = (ServiceStatus.TERMINATED, ServiceStatus.CANCELLED)
ENDED_DOMAINS = (DomainStatus.CANCELLED,)

Kind = Literal["service", "domain"]
Subject = type[Service] | type[Domain]
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
    row: Subject | None = None,
) -> ColumnElement[bool]:
    """SQL: the owner's scope holds the live service (or domain) `subject_id` of `account_id`.

    An EXISTS rather than IN, so a NULL subject (a ticket about no service) is simply not covered.
    It correlates with every enclosing query, not only the next one: `reachable` nests it two deep.

    `row`: the subject is that row of the statement itself, already joined to the membership of
    its account (a list or lookup of services or domains), so it is checked as it is rather than
    read again. Besides a lookup saved per row, the planner then prices the check as the index
    probe it is and walks a list in key order, stopping after a page, instead of sorting the
    agency's every row.
    """
    if row is not None:
        if kind == "service":
            link: ServiceLink | DomainLink = tables.services
            linked = tables.services.service_id
        else:
            link = tables.domains
            linked = tables.domains.domain_id
        ended = ENDED_SERVICES if kind == "service" else ENDED_DOMAINS
        return and_(
            row.status.not_in(ended),
            exists().where(link.owner_id == owner_id, linked == row.id).correlate_except(link),
        )
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
    principal: Principal, kind: Kind, subject_id: Any, account_id: Any, row: Subject | None
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
            row=row,
        )
    ]


@lru_cache(maxsize=256)
def within_scope(
    principal: Principal, kind: Kind, memberships: Any, *, subject_id: Any, row: Subject | None = None
) -> ColumnElement[bool]:
    """SQL for a list joined through `visible_memberships(...)`: the subject lies in the scope of
    the joined membership (when it has one) and of the principal's token (when it has one).
    `row`: the subject is that row itself (see `covers`).
    Built once per viewer and joined memberships (`visible_memberships` is cached alike)."""
    membership = or_(
        not_(memberships.c.scoped),
        covers(
            MEMBERSHIP_SCOPE,
            kind,
            owner_id=memberships.c.id,
            subject_id=subject_id,
            account_id=memberships.c.account_id,
            row=row,
        ),
    )
    return and_(membership, *_token_covers(principal, kind, subject_id, memberships.c.account_id, row))


def scoped_list(
    principal: Principal, model: type[Service] | type[Domain], kind: Kind, need: Needs, given: frozenset[str]
) -> Select[Any]:
    """The viewer's services or domains: in every account where they hold `need`, within the scope
    of that membership and of their token, narrowed by the list filters `given` (`bound_filters`,
    bound by name when it runs). Callers cache it per viewer and filter shape."""
    memberships = visible_memberships(principal, need)
    # Rows as stored (`columns_of`): a page is read to be shown, and its rows are its nodes' data.
    statement: Select[Any] = (
        select(*columns_of(model))
        .join(memberships, memberships.c.account_id == model.account_id)
        .where(within_scope(principal, kind, memberships, subject_id=model.id, row=model))
    )
    return bound_filters(statement, model, given)
