"""The per-request context: who is asking, the settings and database, and the request's loaders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.database import Database
from resolvers.core.principal import Access, Principal

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from resolvers.core.settings import Settings
    from resolvers.loaders import Loaders


@dataclass
class Context:
    db: Database
    settings: Settings
    request: Request | None
    response: Response | None
    request_id: str
    principal: Principal | None
    # Builds the request's loaders (resolvers/loaders.py `Loaders`), and builds them again after
    # sign-in or sign-out.
    make_loaders: Callable[[Context], Loaders]
    loaders: Loaders = field(init=False)
    # Cookies to set or clear once the response is built (sign-in, sign-out).
    cookie_updates: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.loaders = self.make_loaders(self)

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

    def close(self) -> None:
        """Lets go of what the request read, once its answer is built: the loaders (their rows,
        futures and values), and the loaders' hold on this context, a reference cycle that would
        keep the request until the collector's next pass; under load such passes walked tens of
        thousands of objects at once, a pause in the middle of sixteen requests."""
        self.loaders.close()

    def become(self, principal: Principal | None) -> None:
        """Switch the request's viewer after sign-in or sign-out; nothing cached for the old one stays."""
        self.principal = principal
        self.loaders = self.make_loaders(self)
