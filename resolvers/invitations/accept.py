"""Accepting an invitation: by its link or by ID when signed in, or by signing up with the link;
and what the link shows before that."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow
from models.invitations import Invitation, InvitationState
from models.users import User
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import digest, hash_password, start_session
from resolvers.core.errors import RateLimited, Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.passwords import password_weakness
from resolvers.core.principal import Principal
from resolvers.core.ratelimits import Limits, allowed
from resolvers.core.reach import INVITATION_SCOPE, MEMBERSHIP_SCOPE
from resolvers.core.sessions import _begin_session, _revoke_current_session, client_address
from resolvers.core.validation import Checker
from resolvers.email_verification import mark_verified, require_verified_email
from resolvers.invitations.authority import inviter_authority
from resolvers.invitations.invitations import InvitationStatus, _not_pending, status_of
from resolvers.scopes import (
    copy_scope,
    scope_names,
)


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
