"""The Starlette application: /graphql, health checks, request IDs and access logs."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from clientarea.auth import InvalidToken, authenticate
from clientarea.gc_tuning import tune_gc
from clientarea.graphiql import with_offline_notice
from clientarea.logs import current_request_id, reset_request_id, set_request_id
from clientarea.mailer import Mailer
from clientarea.observability import observe
from clientarea.origins import CookieOrigins, allowed_origins
from clientarea.settings import Settings, get_settings
from clientarea.sso import sso_verify_endpoint
from models.database import Database
from resolvers.context import Context, Principal
from schema.schema import INTERNAL_ERROR_MESSAGE, build_schema, error_code

access_logger = logging.getLogger("clientarea.access")
error_logger = logging.getLogger("clientarea.errors")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class RequestIdMiddleware:
    """Gives every request an ID (the caller's X-Request-ID when sane), echoes it, logs the request,
    and adds the security headers every response carries."""

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
                headers.extend(SECURITY_HEADERS)
                if scope["path"] == "/graphql":
                    headers.append((b"cache-control", b"no-store"))
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
    def __init__(self, db: Database, settings: Settings, extensions: Sequence[Any] = ()) -> None:
        super().__init__(
            build_schema(
                introspection=settings.introspection_enabled,
                max_cost=settings.max_query_cost,
                # A tuple: build_schema may be cached by its arguments (the permission matrix does).
                observers=tuple(extensions),
            ),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.db = db
        self.settings = settings

    async def get_context(self, request: Request | Any, response: Response | Any) -> Context:
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        return Context(
            db=self.db,
            settings=self.settings,
            request=request,
            response=response,
            request_id=current_request_id() or uuid.uuid4().hex,
            principal=principal,
        )

    async def process_result(self, request: Request | Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Parse errors never reach schema extensions, so every error without a code gets it here.
        for error in result.errors or ():
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), "code": error_code(error)}
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    @property
    def graphql_ide_html(self) -> str:
        return with_offline_notice(super().graphql_ide_html)


def _error_response(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> Response:
    extensions = {"code": code} if request_id is None else {"code": code, "requestId": request_id}
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": extensions}]},
        status_code=status,
        headers=headers,
    )


class GraphQLEndpoint:
    """Checks the body size and authenticates the request, then hands it to Strawberry."""

    def __init__(self, view: GraphQLView, db: Database, settings: Settings) -> None:
        self.view = view
        self.db = db
        self.settings = settings
        self.cookie_origins = CookieOrigins(settings)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (chunked bodies included)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "POST":
            declared = request.headers.get("content-length", "")
            body = (
                None
                if declared.isdigit() and int(declared) > self.settings.max_body_bytes
                else (await self._read_body(receive))
            )
            if body is None:
                limit = self.settings.max_body_bytes
                response = _error_response(413, f"The request body exceeds {limit} bytes.", "BAD_USER_INPUT")
                await response(scope, receive, send)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            receive = replay
            request = Request(scope, receive)
        cookie = request.cookies.get(self.settings.cookie_name)
        try:
            principal = await authenticate(
                self.db,
                self.settings,
                cookie=cookie if cookie and self.cookie_origins.permits(request) else None,
                authorization=request.headers.get("authorization"),
            )
        except InvalidToken:
            response = _error_response(
                401,
                "The API token is invalid, revoked or expired.",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            await response(scope, receive, send)
            return
        except Exception:
            # Authentication reads the database, which may be down or out of connections: answer as
            # a failing resolver does (masked, with the request ID), the detail only in the log.
            error_logger.exception("authenticating the request failed")
            response = _error_response(
                500, INTERNAL_ERROR_MESSAGE, "INTERNAL_SERVER_ERROR", request_id=current_request_id()
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
    observed = observe(settings, database)
    endpoint = GraphQLEndpoint(
        GraphQLView(database, settings, observed.schema_extensions), database, settings
    )

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
        if settings.gc_tuning:
            tune_gc()
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
            Route("/sso/verify", sso_verify_endpoint(database, settings), methods=["POST"]),
            *observed.routes,
        ],
        middleware=[
            *observed.middleware,
            Middleware(RequestIdMiddleware),
            Middleware(
                CORSMiddleware,
                allow_origins=allowed_origins(settings),
                allow_credentials=True,
                allow_methods=["POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    app.state.tracer_provider = observed.tracer_provider
    return app
