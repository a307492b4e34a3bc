"""email verification; invitations without their inviter's authority

Users created before this change count as verified only if they have already used a link sent
to their address, which under the old code means a password-reset link (also the link an owner
registered on their behalf sets the first password with). Everyone else starts unverified:
marking them all verified would freeze in any address registered by someone who never read its
mail, the very hole this closes. The cost to a genuine user is one click on the link
`requestEmailVerification` sends; nothing they already have (sessions, API tokens, memberships)
stops working, only new invitations by ID, new API tokens and accounts on behalf wait for it.

Pending invitations whose inviter no longer holds MANAGE_USERS in the account (or is no longer
a member) are revoked, as DESIGN rule 15 would have done at the time, each with an audit event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Permission.MANAGE_USERS's bit in stored masks, fixed here so later code changes cannot move it.
_MANAGE_USERS_BIT = 1 << 1


def upgrade() -> None:
    op.create_table(
        "email_verification_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_verification_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verification_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verification_tokens_token_hash")),
    )
    with op.batch_alter_table("email_verification_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_verification_tokens_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
    _verify_users_who_used_a_reset_link()
    _revoke_invitations_without_authority()


def _verify_users_who_used_a_reset_link() -> None:
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email_verified_at"))
    resets = sa.table("password_reset_tokens", sa.column("user_id", sa.Uuid()), sa.column("used_at"))
    first_use = (
        sa.select(sa.func.min(resets.c.used_at))
        .where(resets.c.user_id == users.c.id, resets.c.used_at.is_not(None))
        .scalar_subquery()
    )
    op.execute(
        users.update()
        .where(sa.exists().where(resets.c.user_id == users.c.id, resets.c.used_at.is_not(None)))
        .values(email_verified_at=first_use)
    )


def _revoke_invitations_without_authority() -> None:
    invitations = sa.table(
        "invitations",
        sa.column("id", sa.Uuid()),
        sa.column("account_id", sa.Uuid()),
        sa.column("invited_by_id", sa.Uuid()),
        sa.column("state", sa.String()),
        sa.column("revoked_at", models.base.UTCDateTime(timezone=True)),
    )
    memberships = sa.table(
        "memberships",
        sa.column("account_id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("permissions", sa.Integer()),
    )
    audit = sa.table(
        "audit_events",
        sa.column("id", sa.Uuid()),
        sa.column("occurred_at", models.base.UTCDateTime(timezone=True)),
        sa.column("action", sa.String()),
        sa.column("credential", sa.String()),
        sa.column("account_id", sa.Uuid()),
        sa.column("subject_id", sa.String()),
    )
    authority = sa.exists().where(
        memberships.c.account_id == invitations.c.account_id,
        memberships.c.user_id == invitations.c.invited_by_id,
        sa.or_(
            memberships.c.role == "OWNER",
            memberships.c.permissions.op("&")(_MANAGE_USERS_BIT) != 0,
        ),
    )
    bind = op.get_bind()
    stale = bind.execute(
        sa.select(invitations.c.id, invitations.c.account_id).where(
            invitations.c.state == "PENDING", ~authority
        )
    ).all()
    if not stale:
        return
    now = models.base.utcnow()
    bind.execute(
        invitations.update()
        .where(invitations.c.id.in_([row.id for row in stale]))
        .values(state="REVOKED", revoked_at=now)
    )
    bind.execute(
        audit.insert(),
        [
            {
                "id": models.base.uuid7(),
                "occurred_at": now,
                "action": "invitation.revoked",
                "credential": "system",
                "account_id": row.account_id,
                "subject_id": _global_id("Invitation", row.id),
            }
            for row in stale
        ],
    )


def _global_id(type_name: str, pk: uuid.UUID) -> str:
    """The API's global ID (resolvers.ids), spelt out so the migration never changes with the code."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk.hex}".encode()).decode().rstrip("=")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
    with op.batch_alter_table("email_verification_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_verification_tokens_user_id"))
    op.drop_table("email_verification_tokens")
