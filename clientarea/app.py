"""The Starlette application: /graphql (clientarea/graphql_endpoint.py), health checks, request IDs
and access logs."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from clientarea.availability import DatabaseUnavailableMiddleware
from clientarea.gc_tuning import tune_gc
from clientarea.graphql_endpoint import GraphQLEndpoint
from clientarea.mailer import Mailer
from clientarea.middleware import HTTPMiddleware, ResponseSend
from clientarea.observability import observe
from clientarea.origins import CookieOrigins, allowed_origins
from clientarea.sso import sso_verify_endpoint
from models.availability import DatabaseUnavailable
from models.database import Database
from resolvers.core.logs import reset_request_id, set_request_id
from resolvers.core.settings import Settings, get_settings
from schema.schema import build_schema

access_logger = logging.getLogger("clientarea.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class RequestIdMiddleware(HTTPMiddleware):
    """Gives every request an ID (the caller's X-Request-ID when sane), echoes it, logs the request,
    and adds the security headers every response carries."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()

        def with_id(message: Message) -> Message:
            headers = list(message.get("headers", []))
            headers.append((b"x-request-id", request_id.encode()))
            headers.extend(SECURITY_HEADERS)
            if scope["path"] == "/graphql" and not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", b"private, no-store"))
            return {**message, "headers": headers}

        response = ResponseSend(send, amend=with_id)
        try:
            await self.app(scope, receive, response)
        finally:
            access_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": response.status,
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            reset_request_id(token)


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or get_settings()
    database = db or Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    observed = observe(settings, database)
    schema = build_schema(
        introspection=settings.introspection_enabled,
        max_cost=settings.max_query_cost,
        # A tuple: build_schema may be cached by its arguments (the permission matrix does).
        observers=tuple(observed.schema_extensions),
    )
    endpoint = GraphQLEndpoint(schema, database, settings, CookieOrigins(settings))

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        try:
            await database.ping()
        except DatabaseUnavailable:
            # Logged by the database's breaker, once per outage.
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
            # Every method reaches the endpoint, so a refused one is answered as GraphQL too.
            Route("/graphql", endpoint, methods=None),
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
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            ),
            Middleware(DatabaseUnavailableMiddleware),
        ],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.admission = endpoint.admission
    app.state.settings = settings
    app.state.tracer_provider = observed.tracer_provider
    return app
