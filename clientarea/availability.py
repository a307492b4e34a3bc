"""HTTP answers for a database that is away or too busy: 503 with `Retry-After` and a GraphQL error
with code SERVICE_UNAVAILABLE, whether the failure surfaced in a resolver or before one ran."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.availability import DatabaseUnavailable
from schema.availability import SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE


def unavailable_response(unavailable: DatabaseUnavailable) -> Response:
    return JSONResponse(
        {
            "data": None,
            "errors": [{"message": SERVICE_UNAVAILABLE_MESSAGE, "extensions": {"code": SERVICE_UNAVAILABLE}}],
        },
        status_code=503,
        headers={"Retry-After": str(unavailable.retry_after)},
    )


class DatabaseUnavailableMiddleware:
    """Answers DatabaseUnavailable raised outside GraphQL execution (authentication, other routes)
    with 503; the database's own log line says why, so no traceback is written per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except DatabaseUnavailable as unavailable:
            if started:
                raise
            await unavailable_response(unavailable)(scope, receive, send)
