"""index of the accounts that require two-factor sign-in

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Every list of account data checks the two-factor requirement (DESIGN rule 17); without this
partial index PostgreSQL read every account to find the few that require it, on every list.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_client_accounts_requiring_two_factor",
        "client_accounts",
        ["id"],
        unique=False,
        sqlite_where=sa.text("require_two_factor IS 1"),
        postgresql_where=sa.text("require_two_factor IS TRUE"),
    )


def downgrade() -> None:
    op.drop_index("ix_client_accounts_requiring_two_factor", table_name="client_accounts")
