"""The per-request context: who is asking, what they may do in each account, and the loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from models.accounts import MembershipRole
from models.database import Database
from models.permissions import ALL_PERMISSIONS, SCOPED_PERMISSIONS, Permission

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from resolvers.core.settings import Settings
    from resolvers.loaders import Loaders


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


@dataclass
class Context:
    db: Database
    settings: Settings
    request: Request | None
    response: Response | None
    request_id: str
    principal: Principal | None
    loaders: Loaders = field(init=False)
    # Cookies to set or clear once the response is built (sign-in, sign-out).
    cookie_updates: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from resolvers.loaders import Loaders

        self.loaders = Loaders(self)

    async def access(self, account_id: uuid.UUID) -> Access | None:
        """The viewer's access to an account, None when they may not reach it (read once a request)."""
        if self.principal is None or not self.principal.covers(account_id):
            return None
        return await self.loaders.access.load(account_id)

    def known_access(self, account_id: uuid.UUID) -> tuple[bool, Access | None]:
        """(True, access) when the viewer's access is at hand without the database (already read
        or primed this request, or impossible); (False, None) when `access` has to read it."""
        if self.principal is None or not self.principal.covers(account_id):
            return True, None
        return self.loaders.access.known(account_id)

    def become(self, principal: Principal | None) -> None:
        """Switch the request's viewer after sign-in or sign-out; nothing cached for the old one stays."""
        self.principal = principal
        from resolvers.loaders import Loaders

        self.loaders = Loaders(self)
