"""Client accounts, their billing profile and memberships; creating accounts and editing billing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import accounts as models
from models.accounts import AccountStatus, MembershipRole
from models.permissions import ALL_PERMISSIONS, Permission, from_mask, ordered
from resolvers import audit as audit_resolve
from resolvers import contacts as contacts_resolve
from resolvers.accounts import accounts as resolve
from resolvers.accounts import members as members_resolve
from resolvers.billing import invoices as invoices_resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.lookahead import at_hand
from resolvers.core.policies import (
    ACCOUNT,
    AFFILIATE,
    AUDIT_EVENT,
    CONTACT,
    DOMAIN,
    INVITATION,
    INVOICE,
    MEMBERSHIP,
    ORDER,
    SERVICE,
    TICKET,
)
from resolvers.core.principal import Access
from resolvers.invitations import invitations as invitations_resolve
from resolvers.invitations.invitations import InvitationStatus
from schema.core.base import (
    BillingProfile,
    Connection,
    Node,
    account_keys,
    shaped,
)
from schema.core.ids import decode_id
from schema.core.policy import gated
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.affiliates import Affiliate
    from schema.audit import AuditEvent
    from schema.billing import Invoice, InvoiceFilter, Order
    from schema.contacts import Contact
    from schema.hosting.domains import Domain, DomainFilter
    from schema.hosting.services import Service, ServiceFilter
    from schema.invitations import Invitation
    from schema.scopes import MembershipScope
    from schema.tickets import Ticket


@shaped
@strawberry.type(
    description=(
        "A customer of the hosting provider. Everything it buys is billed to it. Fields marked "
        "with a permission resolve to null, with a FORBIDDEN error at their path, for a member "
        "who lacks it."
    )
)
class ClientAccount(Node):
    id: strawberry.ID
    name: str
    status: AccountStatus
    created_at: datetime
    account_pk: strawberry.Private[uuid.UUID]
    row: strawberry.Private[models.ClientAccount]

    @classmethod
    def of(cls, row: models.ClientAccount) -> ClientAccount:
        return cls(
            id=strawberry.ID(encode_id("ClientAccount", row.id)),
            name=row.name,
            status=row.status,
            created_at=row.created_at,
            account_pk=row.id,
            row=row,
        )

    @strawberry.field
    def owner(self, info: Info[Context, None]) -> User:
        return at_hand(info.context.loaders.owner, self.account_pk, User.of)

    @strawberry.field
    def viewer_role(self, info: Info[Context, None]) -> MembershipRole:
        # Every path to a ClientAccount goes through the viewer's access to it.
        return at_hand(info.context.loaders.access, self.account_pk, _role)

    @strawberry.field(
        description=(
            "Whether members must use two-factor sign-in to act in this account. Set by the owner "
            "(updateAccountSecurity)."
        )
    )
    def require_two_factor(self) -> bool:
        return self.row.require_two_factor

    @strawberry.field(description="The viewer's effective permissions here (all of them for the owner).")
    def viewer_permissions(self, info: Info[Context, None]) -> list[Permission]:
        return at_hand(info.context.loaders.access, self.account_pk, _permissions)

    @strawberry.field(
        **gated(ACCOUNT.action("billingProfile"), "Billing details: who invoices are addressed to.")
    )
    def billing_profile(self) -> BillingProfile | None:
        return BillingProfile.of(self.row)

    @strawberry.field(**gated(MEMBERSHIP.view))
    async def members(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Membership] | None:
        page = await members_resolve.account_members(
            info.context, account_id=self.account_pk, first=first, after=after
        )
        return Connection.of(page, Membership.of)

    @strawberry.field(**gated(INVITATION.view))
    async def invitations(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        status: InvitationStatus | None = None,
    ) -> Connection[Annotated[Invitation, strawberry.lazy("schema.invitations")]] | None:
        from schema.invitations import Invitation

        page = await invitations_resolve.account_invitations(
            info.context, account_id=self.account_pk, first=first, after=after, status=status
        )
        return Connection.of(page, Invitation.of)

    @strawberry.field(**gated(AUDIT_EVENT.view, "Who did what in this account, newest first."))
    async def audit_log(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[AuditEvent, strawberry.lazy("schema.audit")]] | None:
        from schema.audit import AuditEvent

        page = await audit_resolve.account_audit_log(
            info.context, account_id=self.account_pk, first=first, after=after
        )
        return Connection.of(page, AuditEvent.of)

    @strawberry.field(**gated(SERVICE.view))
    async def services(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[ServiceFilter, strawberry.lazy("schema.hosting.services")] | None = None,
    ) -> Connection[Annotated[Service, strawberry.lazy("schema.hosting.services")]] | None:
        from schema.hosting.services import service_connection

        return await service_connection(
            info, account_id=self.account_pk, first=first, after=after, filter=filter
        )

    @strawberry.field(**gated(DOMAIN.view))
    async def domains(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[DomainFilter, strawberry.lazy("schema.hosting.domains")] | None = None,
    ) -> Connection[Annotated[Domain, strawberry.lazy("schema.hosting.domains")]] | None:
        from schema.hosting.domains import domain_connection

        return await domain_connection(
            info, account_id=self.account_pk, first=first, after=after, filter=filter
        )

    @strawberry.field(**gated(ORDER.view))
    async def orders(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Order, strawberry.lazy("schema.billing")]] | None:
        from schema.billing import Order

        page = await invoices_resolve.account_orders(
            info.context, account_id=self.account_pk, first=first, after=after
        )
        return Connection.of(page, Order.of)

    @strawberry.field(**gated(INVOICE.view))
    async def invoices(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[InvoiceFilter, strawberry.lazy("schema.billing")] | None = None,
    ) -> Connection[Annotated[Invoice, strawberry.lazy("schema.billing")]] | None:
        from schema.billing import Invoice

        page = await invoices_resolve.invoices(
            info.context,
            account_id=self.account_pk,
            first=first,
            after=after,
            account_ids=account_keys(filter.account_ids) if filter and filter.account_ids else None,
            statuses=filter.status if filter else None,
        )
        return Connection.of(page, Invoice.of)

    @strawberry.field(**gated(CONTACT.view))
    async def contacts(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Contact, strawberry.lazy("schema.contacts")]] | None:
        from schema.contacts import Contact

        page = await contacts_resolve.account_contacts(
            info.context, account_id=self.account_pk, first=first, after=after
        )
        return Connection.of(page, Contact.of)

    @strawberry.field(
        **gated(CONTACT.view, "The account holder as a contact, kept in step with the billing profile.")
    )
    async def primary_contact(
        self, info: Info[Context, None]
    ) -> Annotated[Contact, strawberry.lazy("schema.contacts")] | None:
        from schema.contacts import Contact

        row = await info.context.loaders.primary_contact.load(self.account_pk)
        return Contact.of(row) if row else None

    @strawberry.field(**gated(TICKET.view))
    async def tickets(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Ticket, strawberry.lazy("schema.tickets")]] | None:
        from resolvers.tickets import account_tickets
        from schema.tickets import Ticket

        page = await account_tickets(info.context, account_id=self.account_pk, first=first, after=after)
        return Connection.of(page, Ticket.of)

    @strawberry.field(**gated(AFFILIATE.view, "Null also when the programme was never activated."))
    async def affiliate(
        self, info: Info[Context, None]
    ) -> Annotated[Affiliate, strawberry.lazy("schema.affiliates")] | None:
        from schema.affiliates import affiliate_of_account

        return await affiliate_of_account(info, self.row)


def _role(access: Access) -> MembershipRole:
    return access.role


def _permissions(access: Access) -> list[Permission]:
    return ordered(access.permissions)


@shaped
@strawberry.type
class Membership(Node):
    id: strawberry.ID
    role: MembershipRole
    permissions: list[Permission]
    created_at: datetime
    account_pk: strawberry.Private[uuid.UUID]
    user_pk: strawberry.Private[uuid.UUID]
    invited_by_pk: strawberry.Private[uuid.UUID | None]
    pk: strawberry.Private[uuid.UUID]
    scoped: strawberry.Private[bool]

    @classmethod
    def of(cls, row: models.Membership) -> Membership:
        held = ALL_PERMISSIONS if row.role is models.MembershipRole.OWNER else from_mask(row.permissions)
        return cls(
            id=strawberry.ID(encode_id("Membership", row.id)),
            role=row.role,
            permissions=ordered(held),
            created_at=row.created_at,
            account_pk=row.account_id,
            user_pk=row.user_id,
            invited_by_pk=row.invited_by_id,
            pk=row.id,
            scoped=row.scoped,
        )

    @strawberry.field(
        description=(
            "Null: the whole account. Otherwise the member's service and domain permissions reach "
            "only these services and domains; everything else in the account does not exist for them."
        )
    )
    async def scope(
        self, info: Info[Context, None]
    ) -> Annotated[MembershipScope, strawberry.lazy("schema.scopes")] | None:
        from schema.scopes import MembershipScope

        if not self.scoped:
            return None
        items = await info.context.loaders.scopes.membership.load(self.pk)
        return MembershipScope(items=items.within(self.account_pk))

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> User:
        # Through the loader that also serves `invitedBy`, so members and inviters share one batch.
        found = await info.context.loaders.seen_user.load(self.user_pk)
        assert found is not None
        return User.of(found[0])

    @strawberry.field
    async def account(self, info: Info[Context, None]) -> ClientAccount:
        account = await info.context.loaders.account.load(self.account_pk)
        assert account is not None
        return ClientAccount.of(account)

    @strawberry.field(description=history_field("Who invited this member, if anyone."))
    async def invited_by(self, info: Info[Context, None]) -> User | None:
        return await in_history(info, self.invited_by_pk)


@strawberry.type
class AccountQueries:
    @strawberry.field(description="A client account the viewer is a member of; null otherwise.")
    async def account(self, info: Info[Context, None], id: strawberry.ID) -> ClientAccount | None:
        account_id = decode_id(id, "ClientAccount")
        if account_id is None:
            return None
        row = await resolve.account_for_viewer(info.context, account_id)
        return ClientAccount.of(row) if row else None
