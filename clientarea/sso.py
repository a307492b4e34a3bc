"""`POST /sso/verify`: the control panel redeems a sign-on token for the service and user it names.

The panel authenticates itself with `Authorization: Bearer <SSO_PANEL_SECRET>`. The token's
signature already proves it came from us; the shared secret makes sure that only the panel can
spend it, so a token leaked from a browser's history or a proxy log cannot be burnt or read by
anyone else, and the endpoint is no oracle for the rest of the internet. The body is JSON
`{"token": "..."}` (form bodies are refused, so no cross-site form can post here); the answer is
200 with the service and user the first time, and the same 401 for a token that is malformed,
forged, expired or already used, never saying which.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from models.database import Database
from resolvers.core.ids import encode_id
from resolvers.core.logs import current_request_id
from resolvers.core.settings import Settings
from resolvers.sso import redeem_login

logger = logging.getLogger("clientarea.sso")
# A token is about 120 characters; anything much larger is not a redemption request.
MAX_BODY_BYTES = 4096
_NO_STORE = {"cache-control": "no-store"}


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": error, "message": message}, status_code=status, headers={**_NO_STORE, **(headers or {})}
    )


def _is_panel(request: Request, settings: Settings) -> bool:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    # Digests first, so the comparison takes the same time whatever the length of the guess.
    given = hashlib.sha256(credential.strip().encode()).digest()
    expected = hashlib.sha256(settings.sso_panel_secret.encode()).digest()
    return scheme.lower() == "bearer" and hmac.compare_digest(given, expected)


async def _body(request: Request) -> bytes | None:
    """The whole body, or None once it passes MAX_BODY_BYTES (chunked bodies included)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def sso_verify_endpoint(db: Database, settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def verify(request: Request) -> Response:
        if not _is_panel(request, settings):
            return _error(
                401,
                "unauthorized",
                "Authenticate the panel with its bearer secret.",
                {"www-authenticate": 'Bearer realm="sso"'},
            )
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return _error(415, "unsupported_media_type", 'Send JSON: {"token": "..."}.')
        body = await _body(request)
        if body is None:
            return _error(413, "too_large", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        token = parsed.get("token") if isinstance(parsed, dict) else None
        if not isinstance(token, str):
            return _error(400, "bad_request", 'Send JSON: {"token": "..."}.')
        redeemed = await redeem_login(db, settings, token, request_id=current_request_id())
        if redeemed is None:
            logger.info("sign-on token refused")
            return _error(401, "invalid_token", "The sign-on token is invalid, expired or already used.")
        return JSONResponse(
            {
                "serviceId": encode_id("Service", redeemed.service_id),
                "userId": encode_id("User", redeemed.user_id),
                "label": redeemed.label,
                "expiresAt": redeemed.expires_at.isoformat(),
            },
            headers=_NO_STORE,
        )

    return verify
