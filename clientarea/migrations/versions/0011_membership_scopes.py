"""membership scopes: memberships, invitations and API tokens limited to chosen services and domains

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Existing memberships, invitations and tokens stay unscoped (scoped = false): nobody loses reach.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_token_scope_services",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["api_tokens.id"],
            name=op.f("fk_api_token_scope_services_owner_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_api_token_scope_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "service_id", name=op.f("pk_api_token_scope_services")),
    )
    with op.batch_alter_table("api_token_scope_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_token_scope_services_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "invitation_scope_services",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["invitations.id"],
            name=op.f("fk_invitation_scope_services_owner_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_invitation_scope_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "service_id", name=op.f("pk_invitation_scope_services")),
    )
    with op.batch_alter_table("invitation_scope_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitation_scope_services_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "membership_scope_services",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["memberships.id"],
            name=op.f("fk_membership_scope_services_owner_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_membership_scope_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "service_id", name=op.f("pk_membership_scope_services")),
    )
    with op.batch_alter_table("membership_scope_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_scope_services_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "api_token_scope_domains",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_api_token_scope_domains_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["api_tokens.id"],
            name=op.f("fk_api_token_scope_domains_owner_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "domain_id", name=op.f("pk_api_token_scope_domains")),
    )
    with op.batch_alter_table("api_token_scope_domains", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_scope_domains_domain_id"), ["domain_id"], unique=False)

    op.create_table(
        "invitation_scope_domains",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_invitation_scope_domains_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["invitations.id"],
            name=op.f("fk_invitation_scope_domains_owner_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "domain_id", name=op.f("pk_invitation_scope_domains")),
    )
    with op.batch_alter_table("invitation_scope_domains", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitation_scope_domains_domain_id"), ["domain_id"], unique=False
        )

    op.create_table(
        "membership_scope_domains",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_membership_scope_domains_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["memberships.id"],
            name=op.f("fk_membership_scope_domains_owner_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "domain_id", name=op.f("pk_membership_scope_domains")),
    )
    with op.batch_alter_table("membership_scope_domains", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_scope_domains_domain_id"), ["domain_id"], unique=False
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scoped", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scoped", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scoped", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("scoped")

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("scoped")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("scoped")

    with op.batch_alter_table("membership_scope_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_scope_domains_domain_id"))

    op.drop_table("membership_scope_domains")
    with op.batch_alter_table("invitation_scope_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_scope_domains_domain_id"))

    op.drop_table("invitation_scope_domains")
    with op.batch_alter_table("api_token_scope_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_scope_domains_domain_id"))

    op.drop_table("api_token_scope_domains")
    with op.batch_alter_table("membership_scope_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_scope_services_service_id"))

    op.drop_table("membership_scope_services")
    with op.batch_alter_table("invitation_scope_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_scope_services_service_id"))

    op.drop_table("invitation_scope_services")
    with op.batch_alter_table("api_token_scope_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_scope_services_service_id"))

    op.drop_table("api_token_scope_services")
