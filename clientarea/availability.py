"""HTTP answers for a database that is away or too busy: 503 with `Retry-After` and a GraphQL error
with code SERVICE_UNAVAILABLE, whether the failure surfaced in a resolver or before one ran."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from clientarea.middleware import HTTPMiddleware, ResponseSend
from models.availability import DatabaseUnavailable
from schema.core.availability import SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE


def unavailable_response(unavailable: DatabaseUnavailable) -> Response:
    return JSONResponse(
        {
            "data": None,
            "errors": [{"message": SERVICE_UNAVAILABLE_MESSAGE, "extensions": {"code": SERVICE_UNAVAILABLE}}],
        },
        status_code=503,
        headers={"Retry-After": str(unavailable.retry_after)},
    )


class DatabaseUnavailableMiddleware(HTTPMiddleware):
    """Answers DatabaseUnavailable raised outside GraphQL execution (authentication, other routes)
    with 503; the database's own log line says why, so no traceback is written per request."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = ResponseSend(send)
        try:
            await self.app(scope, receive, response)
        except DatabaseUnavailable as unavailable:
            if response.started:
                raise
            await unavailable_response(unavailable)(scope, receive, send)
