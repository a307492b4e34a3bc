"""Which requests may use the session cookie: those from the dashboard's origins (and, in
development, from the server's own pages such as GraphiQL), or without an Origin that are not
cross-site. A cookie dropped for another origin is logged, once per origin."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.requests import Request

from resolvers.core.settings import Settings

logger = logging.getLogger("clientarea.origins")
# Origins are whatever a caller sends: remember only so many, so odd ones cannot grow memory.
MAX_REMEMBERED_ORIGINS = 1000
_MAX_LOGGED_LENGTH = 200


def allowed_origins(settings: Settings) -> list[str]:
    """CLIENTAREA_ALLOWED_ORIGINS, or else the dashboard's own origin from PUBLIC_URL."""
    if settings.allowed_origins:
        return [o.rstrip("/") for o in settings.allowed_origins]
    public = urlsplit(settings.public_url)
    return [f"{public.scheme}://{public.netloc}"]


class CookieOrigins:
    """Decides whether a request's session cookie counts (a cross-site page must not ride on it)."""

    def __init__(self, settings: Settings) -> None:
        self.allowed = frozenset(allowed_origins(settings))
        # GraphiQL is served by this server, so its requests carry the server's own origin; outside
        # development only the configured origins count.
        self.own_origin_allowed = settings.env == "development"
        self._warned: set[str] = set()

    def permits(self, request: Request) -> bool:
        """Whether the cookie of this request may count; a refusal is logged once per origin."""
        origin = request.headers.get("origin")
        if origin is None:
            return request.headers.get("sec-fetch-site") != "cross-site"
        if origin in self.allowed:
            return True
        if self.own_origin_allowed and origin == f"{request.url.scheme}://{request.url.netloc}":
            return True
        self._warn_once(origin)
        return False

    def _warn_once(self, origin: str) -> None:
        if origin in self._warned or len(self._warned) >= MAX_REMEMBERED_ORIGINS:
            return
        self._warned.add(origin)
        logger.warning(
            "session cookie ignored: origin %r is not allowed (CLIENTAREA_ALLOWED_ORIGINS: %s); "
            "the dashboard and the API must be same-site",
            origin[:_MAX_LOGGED_LENGTH],
            ", ".join(sorted(self.allowed)),
        )
