"""Invitations: an account invites a person by email; they accept as a user or sign up to accept."""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clientarea.auth import digest, hash_password, start_session
from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow
from models.invitations import Invitation, InvitationState
from models.permissions import Permission, from_mask, to_mask
from models.users import User
from resolvers.audit import record
from resolvers.context import Access, Context, Principal
from resolvers.email_verification import email_verified, mark_verified, require_verified_email
from resolvers.emails import language_for_country
from resolvers.errors import RateLimited, Rejected, UserErrorCode, not_found, reject
from resolvers.identity import _begin_session, _revoke_current_session, client_address
from resolvers.ids import encode_id
from resolvers.invitation_authority import inviter_authority
from resolvers.outbox import enqueue
from resolvers.pagination import Page, paginate
from resolvers.passwords import password_weakness
from resolvers.permissions import require_principal
from resolvers.ratelimits import Limits, allowed
from resolvers.scope_changes import (
    ChosenScope,
    ScopeRequest,
    choose_scope,
    copy_scope,
    require_scoped_permissions,
    scope_names,
    write_scope,
)
from resolvers.scopes import INVITATION_SCOPE, MEMBERSHIP_SCOPE
from resolvers.validation import Checker

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


def _token_invalid() -> Rejected:
    return reject("This invitation link is not valid.", UserErrorCode.TOKEN_INVALID, "input", "token")


async def _by_token(session: AsyncSession, token: str) -> Invitation | None:
    # The lookup is by a SHA-256 of the token, so its timing says nothing about the token itself.
    return await session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))


def _check_acceptable(invitation: Invitation) -> None:
    status = status_of(invitation)
    if status is InvitationStatus.EXPIRED:
        raise reject("This invitation has expired; ask for a new one.", UserErrorCode.INVITATION_EXPIRED)
    if status is not InvitationStatus.PENDING:
        raise _not_pending()


async def _accept(
    session: AsyncSession, context: Context, invitation: Invitation, user_id: uuid.UUID
) -> Membership:
    """Turns a pending invitation into a membership; exactly one of concurrent acceptances wins.

    The grant is capped at what the inviter holds now (DESIGN rule 15); an inviter who may no
    longer invite there has had their invitations revoked, or is about to.
    """
    authority = await inviter_authority(session, invitation)
    if authority is None:
        raise _not_pending()
    now = utcnow()
    won = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.state == InvitationState.PENDING,
            Invitation.expires_at > now,
        )
        .values(state=InvitationState.ACCEPTED, accepted_by_id=user_id, accepted_at=now)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise _not_pending()
    # Checked after claiming the invitation, so concurrent acceptances all meet the claim first.
    already = await session.scalar(
        select(Membership.id).where(
            Membership.account_id == invitation.account_id, Membership.user_id == user_id
        )
    )
    if already is not None:
        raise reject("You are already a member of this account.", UserErrorCode.ALREADY_MEMBER)
    membership = Membership(
        user_id=user_id,
        account_id=invitation.account_id,
        role=MembershipRole.USER,
        permissions=invitation.permissions & authority,
        invited_by_id=invitation.invited_by_id,
        scoped=invitation.scoped,
    )
    session.add(membership)
    await session.flush()
    if invitation.scoped:
        await copy_scope(session, INVITATION_SCOPE, invitation.id, MEMBERSHIP_SCOPE, membership.id)
    record(
        session,
        context,
        "invitation.accepted",
        actor_id=user_id,
        account_id=invitation.account_id,
        subject_id=encode_id("Membership", membership.id),
    )
    return membership


async def accept_invitation(
    context: Context,
    principal: Principal,
    *,
    token: str | None,
    by_id: bool,
    invitation_id: uuid.UUID | None,
) -> Membership:
    """Accepts by the emailed `token`, or `by_id` (`invitation_id`: None for an ID of another type)."""
    if (token is None) == (not by_id):
        raise reject("Give exactly one of token and invitationId.", UserErrorCode.INVALID, "input")
    if by_id:
        # Without the emailed link, only a proven address may claim what was sent to it (rule 13).
        await require_verified_email(context)
    try:
        async with context.db.begin() as session:
            if token is not None:
                invitation = await _by_token(session, token)
                if invitation is None:
                    raise _token_invalid()
                if invitation.email != principal.email:
                    raise reject(
                        "This invitation was sent to another email address; sign in with that one.",
                        UserErrorCode.INVITATION_EMAIL_MISMATCH,
                        "input",
                        "token",
                    )
            else:
                invitation = await session.get(Invitation, invitation_id) if invitation_id else None
                # Someone else's invitation does not exist for this viewer.
                if invitation is None or invitation.email != principal.email:
                    raise not_found("input", "invitationId")
            _check_acceptable(invitation)
            membership = await _accept(session, context, invitation, principal.user_id)
            if token is not None:
                # The link reached the invited mailbox, which is the viewer's address.
                await mark_verified(session, context, principal.user_id)
    except IntegrityError:
        raise reject("You are already a member of this account.", UserErrorCode.ALREADY_MEMBER) from None
    context.loaders.access.clear(membership.account_id)
    return membership


@dataclass(frozen=True)
class SignedUp:
    user: User
    membership: Membership


async def sign_up_with_invitation(context: Context, *, token: str, name: str, password: str) -> SignedUp:
    check = Checker()
    name = check.text(("input", "name"), name, max_length=200)
    async with context.db.read() as session:
        invitation = await _by_token(session, token)
    if invitation is None:
        raise _token_invalid()
    weakness = password_weakness(password, email=invitation.email)
    if weakness:
        check.fail(("input", "password"), weakness, UserErrorCode.WEAK_PASSWORD)
    if check.problems:
        raise Rejected(check.problems)
    _check_acceptable(invitation)
    password_hash = await hash_password(context.settings, password)
    await _revoke_current_session(context)
    try:
        async with context.db.begin() as session:
            if await session.scalar(select(User.id).where(User.email == invitation.email)):
                raise reject(
                    "A user with this email already exists; sign in and accept the invitation.",
                    UserErrorCode.EMAIL_ALREADY_REGISTERED,
                )
            # The invitation link proves the mailbox (DESIGN rule 13).
            user = User(
                email=invitation.email,
                name=name,
                password_hash=password_hash,
                last_login_at=utcnow(),
                email_verified_at=utcnow(),
            )
            session.add(user)
            await session.flush()
            membership = await _accept(session, context, invitation, user.id)
            secret, login = start_session(session, context.settings, user.id)
            await session.flush()
            record(
                session, context, "user.signed_up", actor_id=user.id, subject_id=encode_id("User", user.id)
            )
    except IntegrityError:
        raise reject(
            "A user with this email already exists; sign in and accept the invitation.",
            UserErrorCode.EMAIL_ALREADY_REGISTERED,
        ) from None
    await _begin_session(context, user, secret, login.id)
    return SignedUp(user=user, membership=membership)


@dataclass(frozen=True)
class Preview:
    invitation: Invitation
    account_name: str
    inviter_name: str
    email_registered: bool
    # None: the whole account; else what the membership it creates will be limited to.
    scope_names: list[str] | None = None


async def preview(context: Context, *, token: str) -> Preview | None:
    # The preview tells whether the invited email is registered (DESIGN rule 12): limit it per client.
    async with context.db.begin() as session:
        within = await allowed(
            session, Limits.of(context.settings).invitation_preview, client_address(context)
        )
    if not within:
        raise RateLimited
    async with context.db.read() as session:
        row = (
            await session.execute(
                select(Invitation, ClientAccount.name, User.name)
                .join(ClientAccount, ClientAccount.id == Invitation.account_id)
                .join(User, User.id == Invitation.invited_by_id)
                .where(Invitation.token_hash == digest(token))
            )
        ).first()
        if row is None:
            return None
        invitation, account_name, inviter_name = row
        registered = await session.scalar(select(User.id).where(User.email == invitation.email))
        names = None
        if invitation.scoped:
            names = await scope_names(session, INVITATION_SCOPE, invitation.id, invitation.account_id)
    return Preview(invitation, account_name, inviter_name, registered is not None, names)


async def pending_for_viewer(context: Context) -> list[Invitation]:
    principal = require_principal(context)
    # An address is only as good as its proof, and a restricted token joins nothing (rules 13, 14).
    if principal.restricted or not await email_verified(context):
        return []
    async with context.db.read() as session:
        rows = await session.scalars(
            select(Invitation)
            .where(
                Invitation.email == principal.email,
                Invitation.state == InvitationState.PENDING,
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.id)
        )
        invitations = list(rows)
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
