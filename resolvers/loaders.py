"""Every loader of a request, built once per request (and again after sign-in or sign-out).

The base classes and the loaders of shared rows live in resolvers/core/loaders.py; each area
keeps its own loaders beside its rules. This module only gathers them, so it alone imports every
area's loaders, and nothing below it imports it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resolvers.affiliates import AffiliateLoaders
from resolvers.billing.invoices import BillingLoaders
from resolvers.catalogue import CatalogueLoaders
from resolvers.contacts import PrimaryContactByAccountIdLoader
from resolvers.core.loaders import (
    AccessByAccountIdLoader,
    AccountIdsByApiTokenLoader,
    AuditEventByIdLoader,
    ClientAccountByIdLoader,
    ContactByIdLoader,
    DomainByIdLoader,
    InvitationByIdLoader,
    MembershipByIdLoader,
    OwnerByAccountIdLoader,
    ServiceByIdLoader,
    UserByIdLoader,
)
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
    read the children of rows already reached through these."""

    def __init__(self, context: Context) -> None:
        self.access = AccessByAccountIdLoader(context)
        self.user = UserByIdLoader(context)
        self.seen_user = SeenUserLoader(context)
        self.account = ClientAccountByIdLoader(context)
        self.membership = MembershipByIdLoader(context)
        self.invitation = InvitationByIdLoader(context)
        self.audit_event = AuditEventByIdLoader(context)
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
