"""Every loader of a request, built once per request (and again after sign-in or sign-out).

The base classes and the loaders of shared rows live in resolvers/core/loaders.py; each area
keeps its own loaders beside its rules. This module only gathers them, so it alone imports every
area's loaders, and nothing below it imports it back.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from resolvers.affiliates import AffiliateLoaders
from resolvers.billing.invoices import BillingLoaders
from resolvers.catalogue import CatalogueLoaders
from resolvers.contacts import PrimaryContactByAccountIdLoader
from resolvers.core.loaders import (
    AccessByAccountIdLoader,
    AccountIdsByApiTokenLoader,
    AuditEventByIdLoader,
    ContactByIdLoader,
    DomainByIdLoader,
    InvitationByIdLoader,
    MembershipByIdLoader,
    ServiceByIdLoader,
    UserByIdLoader,
)
from resolvers.core.owners import ClientAccountByIdLoader, OwnerByAccountIdLoader
from resolvers.scopes import ScopeLoaders
from resolvers.tickets import TicketLoaders
from resolvers.users import SeenUserLoader

if TYPE_CHECKING:
    from resolvers.core.context import Context


class Loaders:
    """A request's loaders. Account data by ID or key: `membership`, `invitation`, `audit_event`,
    `contact`, `primary_contact`, `service`, `domain`, `billing.order`, `billing.invoice`,
    `billing.invoice_of_order` and `tickets.ticket` are scoped to the viewer. `user` and `account`
    read any row: a user is shown only through `seen_user` (DESIGN rule 10), an account only once
    `access` (which primes it) or an invitation the viewer may see led to it. The to-many loaders
    read the children of rows already reached through these.

    Each loader is made when the request first uses it: a request uses a few of them, and making
    one (a DataLoader checks its batch function) costs as much as a field."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def clear(self) -> None:
        """Drops every loader made so far, and with them the rows, futures and values they hold;
        a loader used afterwards is made afresh."""
        for name in [name for name in vars(self) if name != "_context"]:
            delattr(self, name)

    def close(self) -> None:
        """Drops every loader and lets go of the context, which holds these loaders: a reference
        cycle the collector would otherwise have to find."""
        self.clear()
        del self._context

    @cached_property
    def access(self) -> AccessByAccountIdLoader:
        return AccessByAccountIdLoader(self._context)

    @cached_property
    def user(self) -> UserByIdLoader:
        return UserByIdLoader(self._context)

    @cached_property
    def seen_user(self) -> SeenUserLoader:
        return SeenUserLoader(self._context)

    @cached_property
    def account(self) -> ClientAccountByIdLoader:
        return ClientAccountByIdLoader(self._context)

    @cached_property
    def membership(self) -> MembershipByIdLoader:
        return MembershipByIdLoader(self._context)

    @cached_property
    def invitation(self) -> InvitationByIdLoader:
        return InvitationByIdLoader(self._context)

    @cached_property
    def audit_event(self) -> AuditEventByIdLoader:
        return AuditEventByIdLoader(self._context)

    @cached_property
    def contact(self) -> ContactByIdLoader:
        return ContactByIdLoader(self._context)

    @cached_property
    def primary_contact(self) -> PrimaryContactByAccountIdLoader:
        return PrimaryContactByAccountIdLoader(self._context)

    @cached_property
    def service(self) -> ServiceByIdLoader:
        return ServiceByIdLoader(self._context)

    @cached_property
    def domain(self) -> DomainByIdLoader:
        return DomainByIdLoader(self._context)

    @cached_property
    def billing(self) -> BillingLoaders:
        return BillingLoaders(self._context)

    @cached_property
    def owner(self) -> OwnerByAccountIdLoader:
        return OwnerByAccountIdLoader(self._context)

    @cached_property
    def token_accounts(self) -> AccountIdsByApiTokenLoader:
        return AccountIdsByApiTokenLoader(self._context)

    @cached_property
    def catalogue(self) -> CatalogueLoaders:
        return CatalogueLoaders(self._context)

    @cached_property
    def affiliates(self) -> AffiliateLoaders:
        return AffiliateLoaders(self._context)

    @cached_property
    def tickets(self) -> TicketLoaders:
        return TicketLoaders(self._context)

    @cached_property
    def scopes(self) -> ScopeLoaders:
        return ScopeLoaders(self._context)
