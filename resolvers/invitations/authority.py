"""An invitation carries its inviter's authority, no more (DESIGN rule 15)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import Membership, MembershipRole
from models.base import utcnow
from models.invitations import Invitation, InvitationState
from models.permissions import ALL_MASK, from_mask
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.policies import INVITATION


async def inviter_authority(session: AsyncSession, invitation: Invitation) -> int | None:
    """The permission mask the inviter holds in the account now, or None when they may no longer
    invite there (gone, or without MANAGE_USERS).

    The inviter's membership row is locked, so a concurrent removal or demotion, which revokes
    this invitation in the same unit of work, is ordered entirely before or after the acceptance.
    """
    row = await session.scalar(
        select(Membership)
        .where(Membership.account_id == invitation.account_id, Membership.user_id == invitation.invited_by_id)
        .with_for_update()
    )
    if row is None:
        return None
    held = ALL_MASK if row.role is MembershipRole.OWNER else row.permissions
    return held if INVITATION.change.met_by(from_mask(held)) else None


async def revoke_invitations_by(
    session: AsyncSession, context: Context, *, account_id: uuid.UUID, inviter_id: uuid.UUID
) -> list[uuid.UUID]:
    """Revokes the pending invitations the user sent in the account (they are leaving, removed, or
    lose MANAGE_USERS), each audited; returns their IDs."""
    now = utcnow()
    revoked = list(
        await session.scalars(
            update(Invitation)
            .where(
                Invitation.account_id == account_id,
                Invitation.invited_by_id == inviter_id,
                Invitation.state == InvitationState.PENDING,
            )
            .values(state=InvitationState.REVOKED, revoked_at=now)
            .returning(Invitation.id)
        )
    )
    for invitation_id in revoked:
        record(
            session,
            context,
            "invitation.revoked",
            account_id=account_id,
            subject_id=encode_id("Invitation", invitation_id),
        )
        context.loaders.invitation.clear(invitation_id)
    return revoked
