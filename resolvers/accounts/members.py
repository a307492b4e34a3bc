"""Members of an account: their permissions, leaving or being removed, and moving ownership."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select

from models.accounts import Membership, MembershipRole
from models.permissions import ALL_MASK, Permission, from_mask, to_mask
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.pagination import Page, paginate
from resolvers.core.permissions import grant, require_unrestricted
from resolvers.core.policies import INVITATION, MEMBERSHIP
from resolvers.core.principal import Access, Principal
from resolvers.core.reach import MEMBERSHIP_SCOPE
from resolvers.invitations.authority import revoke_invitations_by
from resolvers.scopes import require_scoped_permissions, write_scope


async def _target(context: Context, membership_id: uuid.UUID | None) -> tuple[Membership, Access]:
    """The membership named in the input and the viewer's access to its account, or NOT_FOUND."""
    membership = await context.loaders.membership.load(membership_id) if membership_id else None
    access = await context.access(membership.account_id) if membership else None
    if membership is None or access is None:
        raise not_found("input", "membershipId")
    return membership, access


async def _own(context: Context, principal: Principal, membership_id: uuid.UUID) -> bool:
    """Whether the membership is the viewer's own, in any account (one statement, for a restricted
    token only: the same for a foreign ID and a missing one)."""
    async with context.db.read() as session:
        found = await session.scalar(
            select(Membership.id).where(
                Membership.id == membership_id, Membership.user_id == principal.user_id
            )
        )
    return found is not None


def _owner_required(message: str) -> Rejected:
    return reject(message, UserErrorCode.OWNER_REQUIRED, "input", "membershipId")


async def update_member_permissions(
    context: Context, target: Membership, access: Access, *, permissions: list[Permission]
) -> Membership:
    """`target`'s new permissions; `access` is the viewer's in its account (MEMBERSHIP's `change`)."""
    if target.role is MembershipRole.OWNER:
        raise _owner_required("The owner holds every permission; their membership cannot be changed.")
    wanted = frozenset(permissions)
    if target.scoped:
        require_scoped_permissions(wanted)
    # Keeping or taking away is fine; adding what the actor does not hold is escalation.
    added = wanted - from_mask(target.permissions)
    if not added <= access.permissions:
        names = ", ".join(sorted(p.value for p in added - access.permissions))
        raise reject(
            f"You cannot grant permissions you do not hold: {names}.",
            UserErrorCode.PERMISSION_ESCALATION,
            "input",
            "permissions",
        )
    async with context.db.begin() as session:
        row = await session.get(Membership, target.id, with_for_update=True)
        if row is None:
            raise not_found("input", "membershipId")
        could_invite = INVITATION.change.met_by(from_mask(row.permissions))
        lost_authority = could_invite and not INVITATION.change.met_by(wanted)
        if row.scoped:
            # Again under the lock: the scope may have been set since the membership was read.
            require_scoped_permissions(wanted)
        row.permissions = to_mask(wanted)
        record(
            session,
            context,
            "membership.permissions_changed",
            account_id=row.account_id,
            subject_id=encode_id("Membership", row.id),
        )
        if lost_authority:
            # What they sent carried authority they no longer have (DESIGN rule 15).
            await revoke_invitations_by(session, context, account_id=row.account_id, inviter_id=row.user_id)
    context.loaders.membership.clear(row.id).prime(row.id, row)
    context.loaders.access.clear(row.account_id)
    return row


async def remove_member(
    context: Context, principal: Principal, *, membership_id: uuid.UUID | None
) -> uuid.UUID:
    """Removes a member, or the viewer leaves. Not declared as one requirement: leaving needs no
    MANAGE_USERS, is refused to a restricted token whatever the account (DESIGN rules 3, 14), and
    the owner is OWNER_REQUIRED before any permission is looked at."""
    if principal.restricted and membership_id is not None and await _own(context, principal, membership_id):
        # Leaving is an identity-level act, refused to a restricted token whatever the account,
        # also one the token does not reach (where the scoped loader would not find it).
        require_unrestricted(context)
    target, access = await _target(context, membership_id)
    leaving = target.id == access.membership_id
    if target.role is MembershipRole.OWNER:
        raise _owner_required("The owner cannot leave or be removed; transfer the ownership first.")
    if not leaving:
        await grant(context, target.account_id, MEMBERSHIP.change, field="membershipId")
    async with context.db.begin() as session:
        removed = await session.execute(
            delete(Membership).where(Membership.id == target.id, Membership.role == MembershipRole.USER)
        )
        if removed.rowcount != 1:  # type: ignore[attr-defined]
            raise not_found("input", "membershipId")
        record(
            session,
            context,
            "membership.left" if leaving else "membership.removed",
            account_id=target.account_id,
            subject_id=encode_id("Membership", target.id),
        )
        await revoke_invitations_by(session, context, account_id=target.account_id, inviter_id=target.user_id)
    context.loaders.membership.clear(target.id)
    context.loaders.access.clear(target.account_id)
    return target.id


async def transfer_ownership(context: Context, *, membership_id: uuid.UUID | None) -> uuid.UUID:
    """Makes the member owner. Not declared as one requirement: only the owner may, and anyone
    else hears OWNER_REQUIRED before TWO_FACTOR_REQUIRED or FORBIDDEN."""
    target, access = await _target(context, membership_id)
    if access.role is not MembershipRole.OWNER:
        raise _owner_required("Only the account's owner can transfer its ownership.")
    # The owner through an API token narrowed to other permissions is FORBIDDEN; an owner without
    # two-factor sign-in in an account that requires it, TWO_FACTOR_REQUIRED.
    await grant(context, target.account_id, MEMBERSHIP.change, field="membershipId")
    if target.id == access.membership_id:
        raise reject("You already own this account.", UserErrorCode.INVALID, "input", "membershipId")
    async with context.db.begin() as session:
        rows = {
            m.id: m
            for m in await session.scalars(
                select(Membership)
                .where(Membership.id.in_([target.id, access.membership_id]))
                .with_for_update()
            )
        }
        old_owner, new_owner = rows.get(access.membership_id), rows.get(target.id)
        if old_owner is None or new_owner is None or old_owner.role is not MembershipRole.OWNER:
            raise not_found("input", "membershipId")
        # Demote first: the one-owner index must never see two owners, even within the transaction.
        old_owner.role = MembershipRole.USER
        old_owner.permissions = ALL_MASK
        await session.flush()
        new_owner.role = MembershipRole.OWNER
        new_owner.permissions = ALL_MASK
        # The owner reaches the whole account (DESIGN rules 1 and 16).
        new_owner.scoped = False
        await write_scope(session, MEMBERSHIP_SCOPE, new_owner.id, None)
        record(
            session,
            context,
            "account.ownership_transferred",
            account_id=target.account_id,
            subject_id=encode_id("Membership", new_owner.id),
        )
    for row in rows.values():
        context.loaders.membership.clear(row.id).prime(row.id, row)
    context.loaders.access.clear(target.account_id)
    context.loaders.owner.clear(target.account_id)
    return target.account_id


async def account_members(
    context: Context, *, account_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Any]:
    page = await paginate(
        context.db,
        select(Membership).where(Membership.account_id == account_id),
        keys=[Membership.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
    )
    return page.map(lambda row: row[0])
