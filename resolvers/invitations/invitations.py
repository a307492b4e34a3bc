"""Invitations: an account invites a person by email; they accept as a user or sign up to accept."""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership
from models.base import columns_of, stored, utcnow
from models.invitations import Invitation, InvitationState
from models.permissions import Permission, from_mask, to_mask
from models.users import User
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import digest
from resolvers.core.emails import language_for_country
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.outbox import enqueue
from resolvers.core.pagination import Page, paginate
from resolvers.core.permissions import require_principal
from resolvers.core.principal import Access, Principal
from resolvers.core.ratelimits import Limits, allowed
from resolvers.core.reach import INVITATION_SCOPE
from resolvers.core.validation import Checker
from resolvers.email_verification import email_verified
from resolvers.scopes import (
    ChosenScope,
    ScopeRequest,
    choose_scope,
    require_scoped_permissions,
    write_scope,
)

INVITATION_LIFETIME = timedelta(days=7)


class InvitationStatus(enum.Enum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


def status_of(invitation: Invitation, now: datetime | None = None) -> InvitationStatus:
    if invitation.state is InvitationState.PENDING:
        if invitation.expires_at <= (now or utcnow()):
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING
    return InvitationStatus(invitation.state.value)


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def _escalation(granted: frozenset[Permission]) -> Rejected:
    names = ", ".join(sorted(p.value for p in granted))
    return reject(
        f"You cannot grant permissions you do not hold: {names}.",
        UserErrorCode.PERMISSION_ESCALATION,
        "input",
        "permissions",
    )


def _send(
    session: AsyncSession,
    context: Context,
    *,
    invitation: Invitation,
    token: str,
    account: ClientAccount,
    inviter_name: str,
) -> None:
    language = language_for_country(account.billing_country_code)
    expires = invitation.expires_at.strftime(
        "%d.%m.%Y %H:%M UTC" if language == "de" else "%Y-%m-%d %H:%M UTC"
    )
    enqueue(
        session,
        to=invitation.email,
        template="invitation",
        language=language,
        params={
            "inviter": inviter_name,
            "account": account.name,
            "expires": expires,
            "link": f"{context.settings.public_url}/invitations/accept?token={token}",
        },
    )


async def invite_user(
    context: Context,
    principal: Principal,
    access: Access,
    *,
    email: str,
    permissions: list[Permission],
    scope: ScopeRequest | None = None,
) -> Invitation:
    """Invites `email` into the account of `access` (the viewer's, holding INVITATION's `change`)."""
    check = Checker()
    email = check.email(("input", "email"), email)
    if check.problems:
        raise Rejected(check.problems)
    granted = frozenset(permissions)
    if not granted <= access.permissions:
        raise _escalation(granted - access.permissions)
    chosen = None
    if scope is not None:
        require_scoped_permissions(granted)
        chosen = await choose_scope(context, scope, account_ids=frozenset({access.account_id}))
    for attempt in range(2):
        try:
            return await _invite(context, principal, access.account_id, email, granted, chosen)
        except IntegrityError:
            # A concurrent invitation of the same email won the insert: renew that one instead.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _invite(
    context: Context,
    principal: Principal,
    account_id: uuid.UUID,
    email: str,
    granted: frozenset[Permission],
    scope: ChosenScope | None = None,
) -> Invitation:
    now = utcnow()
    token = _new_token()
    async with context.db.begin() as session:
        member = await session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.account_id == account_id, User.email == email)
        )
        if member is not None:
            raise reject(
                "This person is already a member of the account.",
                UserErrorCode.ALREADY_MEMBER,
                "input",
                "email",
            )
        limits = Limits.of(context.settings)
        if not await allowed(session, limits.invitation_per_actor, principal.user_id) or not await allowed(
            session, limits.invitation_per_account, account_id
        ):
            raise reject("Too many invitations; try again later.", UserErrorCode.RATE_LIMITED)
        invitation = await session.scalar(
            select(Invitation)
            .where(
                Invitation.account_id == account_id,
                Invitation.email == email,
                Invitation.state == InvitationState.PENDING,
            )
            .with_for_update()
        )
        action = "invitation.renewed"
        if invitation is None:
            action = "invitation.created"
            invitation = Invitation(account_id=account_id, email=email)
            session.add(invitation)
        invitation.permissions = to_mask(granted)
        invitation.invited_by_id = principal.user_id
        invitation.token_hash = digest(token)
        invitation.sent_at = now
        invitation.expires_at = now + INVITATION_LIFETIME
        invitation.scoped = scope is not None
        await session.flush()
        # A renewed invitation takes the scope of the latest one, as it takes its permissions.
        await write_scope(session, INVITATION_SCOPE, invitation.id, scope)
        account = await session.get_one(ClientAccount, account_id)
        inviter = await session.get_one(User, principal.user_id)
        _send(
            session, context, invitation=invitation, token=token, account=account, inviter_name=inviter.name
        )
        record(
            session,
            context,
            action,
            account_id=account_id,
            subject_id=encode_id("Invitation", invitation.id),
        )
    return invitation


async def revoke_invitation(context: Context, invitation: Invitation) -> Invitation:
    """Revokes `invitation` (the viewer holds INVITATION's `change` in its account)."""
    async with context.db.begin() as session:
        revoked = await session.execute(
            update(Invitation)
            .where(
                Invitation.id == invitation.id,
                Invitation.state == InvitationState.PENDING,
                Invitation.expires_at > utcnow(),
            )
            .values(state=InvitationState.REVOKED, revoked_at=utcnow())
        )
        if revoked.rowcount != 1:  # type: ignore[attr-defined]
            raise _not_pending()
        record(
            session,
            context,
            "invitation.revoked",
            account_id=invitation.account_id,
            subject_id=encode_id("Invitation", invitation.id),
        )
        return await session.get_one(Invitation, invitation.id, populate_existing=True)


def _not_pending() -> Rejected:
    return reject("This invitation was already accepted or revoked.", UserErrorCode.INVITATION_NOT_PENDING)


# The invitations waiting for an address, oldest first: built once, its values bound per request.
_PENDING = (
    select(*columns_of(Invitation))
    .where(
        Invitation.email == bindparam("email"),
        Invitation.state == InvitationState.PENDING,
        Invitation.expires_at > bindparam("now"),
    )
    .order_by(Invitation.id)
)


async def pending_for_viewer(context: Context) -> list[Invitation]:
    principal = require_principal(context)
    # An address is only as good as its proof, and a restricted token joins nothing (rules 13, 14).
    if principal.restricted or not await email_verified(context):
        return []
    make = stored(Invitation)
    rows = await context.db.rows(_PENDING, {"email": principal.email, "now": utcnow()})
    invitations: list[Invitation] = [make(row) for row in rows]
    for invitation in invitations:
        context.loaders.invitation.prime(invitation.id, invitation)
    return invitations


def _status_condition(statuses: InvitationStatus) -> Any:
    now = utcnow()
    if statuses is InvitationStatus.PENDING:
        return and_(Invitation.state == InvitationState.PENDING, Invitation.expires_at > now)
    if statuses is InvitationStatus.EXPIRED:
        return and_(Invitation.state == InvitationState.PENDING, Invitation.expires_at <= now)
    return Invitation.state == InvitationState(statuses.value)


async def account_invitations(
    context: Context,
    *,
    account_id: uuid.UUID,
    first: int | None,
    after: str | None,
    status: InvitationStatus | None,
) -> Page[Any]:
    statement: Any = select(Invitation).where(Invitation.account_id == account_id)
    if status is not None:
        statement = statement.where(or_(_status_condition(status)))
    page = await paginate(
        context.db,
        statement,
        keys=[Invitation.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
        descending=True,
    )
    return page.map(lambda row: row[0])


def granted_permissions(invitation: Invitation) -> frozenset[Permission]:
    return from_mask(invitation.permissions)
