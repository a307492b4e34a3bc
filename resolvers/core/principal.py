"""Who is asking and what they may do in one account: the primitive types every layer reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from models.accounts import MembershipRole
from models.permissions import ALL_PERMISSIONS, SCOPED_PERMISSIONS, Permission


@dataclass(frozen=True)
class Principal:
    """A signed-in user and the credential they used; a token narrows what the user may reach."""

    user_id: uuid.UUID
    email: str
    credential: Literal["session", "token"]
    credential_id: uuid.UUID
    # For a token: the accounts it is restricted to (None: all) and its permissions (None: all).
    token_account_ids: frozenset[uuid.UUID] | None = None
    token_permissions: frozenset[Permission] | None = None
    # A token limited to chosen services and domains (resolvers/core/reach.py applies it in SQL).
    token_scoped: bool = False

    @property
    def restricted(self) -> bool:
        """A token limited in any way: it acts only inside its limits (DESIGN rule 14)."""
        return self.token_account_ids is not None or self.token_permissions is not None or self.token_scoped

    def covers(self, account_id: uuid.UUID) -> bool:
        return self.token_account_ids is None or account_id in self.token_account_ids

    def narrow(self, permissions: frozenset[Permission]) -> frozenset[Permission]:
        if self.token_scoped:
            permissions = permissions & SCOPED_PERMISSIONS
        if self.token_permissions is None:
            return permissions
        return permissions & self.token_permissions


@dataclass(frozen=True)
class Access:
    """The viewer's standing in one account: role and effective permissions (token applied)."""

    account_id: uuid.UUID
    membership_id: uuid.UUID
    role: MembershipRole
    permissions: frozenset[Permission]
    # The account requires two-factor sign-in and the user has not turned it on: no permission
    # holds here (DESIGN rule 17), and mutations answer TWO_FACTOR_REQUIRED.
    two_factor_required: bool = False
    # Limited to chosen services and domains, by the membership or the token (DESIGN rule 16).
    scoped: bool = False

    def allows(self, *any_of: Permission) -> bool:
        return any(p in self.permissions for p in any_of)

    @classmethod
    def of(
        cls,
        principal: Principal,
        *,
        account_id: uuid.UUID,
        membership_id: uuid.UUID,
        role: MembershipRole,
        granted: frozenset[Permission],
        two_factor_required: bool = False,
        scoped: bool = False,
    ) -> Access:
        held = ALL_PERMISSIONS if role is MembershipRole.OWNER else granted
        if scoped:
            held = held & SCOPED_PERMISSIONS
        if two_factor_required:
            held = frozenset()
        return cls(
            account_id,
            membership_id,
            role,
            principal.narrow(held),
            two_factor_required=two_factor_required,
            scoped=scoped or principal.token_scoped,
        )
