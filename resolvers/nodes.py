"""Fetching any entity by global ID, with the same visibility rules as every other path."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from models.accounts import ClientAccount, Membership
from models.audit import AuditEvent
from models.catalogue import Product
from models.contacts import Contact
from models.hosting import Domain, Service
from models.identity import ApiToken
from models.invitations import Invitation
from models.tickets import Ticket
from models.users import User
from resolvers.accounts.accounts import account_for_viewer
from resolvers.catalogue import product_by_id
from resolvers.core.context import Context
from resolvers.core.errors import Forbidden
from resolvers.core.policies import (
    AUDIT_EVENT,
    CONTACT,
    DOMAIN,
    INVITATION,
    INVOICE,
    MEMBERSHIP,
    ORDER,
    SERVICE,
    TICKET,
    Policy,
)
from resolvers.email_verification import email_verified
from resolvers.users import visible_user

Found = (
    ClientAccount
    | Membership
    | User
    | ApiToken
    | Invitation
    | AuditEvent
    | Product
    | Contact
    | Service
    | Domain
    | Ticket
)
# What anonymous callers may fetch too (DESIGN rule 9: the catalogue is public).
PUBLIC_TYPES = frozenset({"Product"})


async def _membership(context: Context, pk: uuid.UUID) -> Membership | None:
    membership = await context.loaders.membership.load(pk)
    if membership is None:
        return None
    access = await context.access(membership.account_id)
    if access is None:
        return None
    if membership.id != access.membership_id and not MEMBERSHIP.view.met_by(access.permissions):
        raise Forbidden(MEMBERSHIP.view.named)
    return membership


async def _api_token(context: Context, pk: uuid.UUID) -> ApiToken | None:
    principal = context.principal
    if principal is None:
        return None
    if principal.restricted and pk != principal.credential_id:
        return None  # a restricted token knows no token but itself (DESIGN rule 14)
    async with context.db.read() as session:
        return await session.scalar(
            select(ApiToken).where(
                ApiToken.id == pk,
                ApiToken.user_id == principal.user_id,
                ApiToken.revoked_at.is_(None),
            )
        )


async def _invitation(context: Context, pk: uuid.UUID) -> Invitation | None:
    invitation = await context.loaders.invitation.load(pk)
    if invitation is None or context.principal is None:
        return None
    access = await context.access(invitation.account_id)
    if access is not None and INVITATION.view.met_by(access.permissions):
        return invitation
    # The invitee sees what was sent to them, before and after they join, once the address is
    # proven and not through a restricted token (as Viewer.pendingInvitations, rules 13 and 14).
    if (
        invitation.email == context.principal.email
        and not context.principal.restricted
        and await email_verified(context)
    ):
        return invitation
    if access is not None:
        raise Forbidden(INVITATION.view.named)
    return None


async def _audit_event(context: Context, pk: uuid.UUID) -> AuditEvent | None:
    event = await context.loaders.audit_event.load(pk)
    if event is None or event.account_id is None:
        return None
    access = await context.access(event.account_id)
    if access is None:
        return None
    if not AUDIT_EVENT.view.met_by(access.permissions):
        raise Forbidden(AUDIT_EVENT.view.named)
    return event


def _gated(load: Callable[[Context], Any], policy: Policy) -> Callable[[Context, uuid.UUID], Awaitable[Any]]:
    """A fetcher for an entity of an account, visible to members meeting the policy's `view` (any one
    of its permissions: no view needs several at once)."""
    assert not policy.view.all_of, policy.kind
    any_of = policy.view.any_of

    async def fetch(context: Context, pk: uuid.UUID) -> Any:
        row = await load(context).load(pk)
        if row is None:
            return None
        access = await context.access(row.account_id)
        if access is None:
            return None
        if not access.allows(*any_of):
            raise Forbidden(any_of)
        return row

    return fetch


FETCHERS: dict[str, Callable[[Context, uuid.UUID], Awaitable[Found | None]]] = {
    "ClientAccount": account_for_viewer,
    "User": visible_user,
    "Membership": _membership,
    "ApiToken": _api_token,
    "Invitation": _invitation,
    "AuditEvent": _audit_event,
    "Contact": _gated(lambda c: c.loaders.contact, CONTACT),
    "Order": _gated(lambda c: c.loaders.billing.order, ORDER),
    "Invoice": _gated(lambda c: c.loaders.billing.invoice, INVOICE),
    "Service": _gated(lambda c: c.loaders.service, SERVICE),
    "Domain": _gated(lambda c: c.loaders.domain, DOMAIN),
    "Ticket": _gated(lambda c: c.loaders.tickets.ticket, TICKET),
    "Product": product_by_id,
}


async def find_node(context: Context, type_name: str, pk: uuid.UUID) -> Found | None:
    """The entity of that type and key when the viewer may see it; raises FORBIDDEN inside an account."""
    if context.principal is None and type_name not in PUBLIC_TYPES:
        return None
    fetch = FETCHERS.get(type_name)
    if fetch is None:
        return None
    return await fetch(context, pk)
