"""Scopes (DESIGN rule 16): the services and domains a membership, invitation or API token is
limited to.

The owner row says whether it is scoped at all (`scoped`), so a scope whose last service leaves
the account still reaches nothing rather than everything. Each link row names its owner as
`owner_id`, so one piece of SQL serves all three kinds of owner.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from models.base import Base


class _ScopeLink:
    """A link row's owner (a membership, invitation or API token), named by `owner_table`."""

    owner_table: ClassVar[str]

    @declared_attr
    def owner_id(cls) -> Mapped[uuid.UUID]:
        # First in the table and in its primary key, as the migrations create it.
        return mapped_column(
            ForeignKey(f"{cls.owner_table}.id", ondelete="CASCADE"), primary_key=True, sort_order=-1
        )


class _ServiceLink(_ScopeLink):
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class _DomainLink(_ScopeLink):
    domain_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MembershipScopeService(_ServiceLink, Base):
    __tablename__ = "membership_scope_services"
    owner_table = "memberships"


class MembershipScopeDomain(_DomainLink, Base):
    __tablename__ = "membership_scope_domains"
    owner_table = "memberships"


class InvitationScopeService(_ServiceLink, Base):
    __tablename__ = "invitation_scope_services"
    owner_table = "invitations"


class InvitationScopeDomain(_DomainLink, Base):
    __tablename__ = "invitation_scope_domains"
    owner_table = "invitations"


class ApiTokenScopeService(_ServiceLink, Base):
    __tablename__ = "api_token_scope_services"
    owner_table = "api_tokens"


class ApiTokenScopeDomain(_DomainLink, Base):
    __tablename__ = "api_token_scope_domains"
    owner_table = "api_tokens"
