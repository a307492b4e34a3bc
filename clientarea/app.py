"""The Starlette application: /graphql, health checks, request IDs and access logs."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from clientarea.auth import InvalidToken, authenticate
from clientarea.logs import reset_request_id, set_request_id
from clientarea.mailer import Mailer
from clientarea.settings import Settings, get_settings
from models.database import Database
from resolvers.context import Context, Principal
from schema.schema import schema

access_logger = logging.getLogger("clientarea.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an ID (the caller's X-Request-ID when sane), echoes it, logs the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            reset_request_id(token)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.db = db
        self.settings = settings

    async def get_context(self, request: Request | Any, response: Response | Any) -> Context:
        from clientarea.logs import current_request_id

        principal: Principal | None = request.scope.get("state", {}).get("principal")
        return Context(
            db=self.db,
            settings=self.settings,
            request=request,
            response=response,
            request_id=current_request_id() or uuid.uuid4().hex,
            principal=principal,
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


class GraphQLEndpoint:
    """Authenticates the request, then hands it to Strawberry; a bad API token stops it here."""

    def __init__(self, view: GraphQLView, db: Database, settings: Settings) -> None:
        self.view = view
        self.db = db
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            principal = await authenticate(
                self.db,
                self.settings,
                cookie=request.cookies.get(self.settings.cookie_name),
                authorization=request.headers.get("authorization"),
            )
        except InvalidToken:
            response = JSONResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "The API token is invalid, revoked or expired.",
                            "extensions": {"code": "UNAUTHENTICATED"},
                        }
                    ],
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.view(scope, receive, send)


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or get_settings()
    database = db or Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    endpoint = GraphQLEndpoint(GraphQLView(database, settings), database, settings)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        try:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            logging.getLogger("clientarea.readyz").warning("database unreachable", exc_info=True)
            return PlainTextResponse("database unreachable", status_code=503)
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        mailer = Mailer(database, settings) if settings.mail_enabled else None
        if mailer is not None:
            mailer.start()
        try:
            yield
        finally:
            if mailer is not None:
                await mailer.stop()
            await database.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    return app
