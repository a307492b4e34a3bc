"""Prometheus metrics for operators: what each /graphql request did (operation, outcome, time, SQL
statements), the database pool, refusals, and the email outbox read at scrape time; served on
GET /metrics behind the CLIENTAREA_METRICS_TOKEN bearer secret."""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import Pool, QueuePool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from clientarea.middleware import HTTPMiddleware, ResponseSend
from clientarea.outbox_metrics import OutboxCollector, OutboxState, outbox_state
from models.database import Database
from resolvers.core.metrics import (
    LATENCY,
    POOL_IN_USE,
    POOL_TIMEOUTS,
    POOL_WAIT_SECONDS,
    POOL_WAITS,
    REFUSED_DOCUMENTS,
    REQUESTS,
    STATEMENTS,
)
from resolvers.core.settings import Settings
from schema.core.limits import is_limit_error

logger = logging.getLogger("resolvers.core.metrics")
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Operation names are chosen by callers: only so many distinct ones become labels in a process,
# later ones count as "other", so a caller cannot grow the metrics without bound.
MAX_OPERATION_NAMES = 200
_OPERATION_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")
# Which limit a QUERY_TOO_COMPLEX refusal broke, by the words of its message (schema/core/limits.py and
# Strawberry's limiters).
_REFUSAL_REASONS = (
    ("maximum operation depth", "depth"),
    ("aliases", "aliases"),
    ("tokens", "tokens"),
    ("directives", "directives"),
    ("may return", "cost"),
    ("field selections", "selections"),
    ("times in one selection set", "selections"),
    ("fragment spreads", "selections"),
)


@dataclass
class RequestRecord:
    """What one /graphql request did, filled in while it runs."""

    statements: int = 0
    executed: bool = False
    operation: str | None = None
    errors: list[GraphQLError] = field(default_factory=list)


_current: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar("metrics", default=None)
_operation_names: set[str] = set()


def _operation_label(name: str | None) -> str:
    if name is None:
        return "anonymous"
    if not _OPERATION_NAME.match(name):
        return "other"
    if name not in _operation_names:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
    return name


def error_code(error: GraphQLError) -> str:
    """The code the caller is shown for this error (before masking turns bugs into one code)."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        return "INTERNAL_SERVER_ERROR"
    return "QUERY_TOO_COMPLEX" if is_limit_error(error) else "BAD_USER_INPUT"


def _refusal_reason(error: GraphQLError) -> str:
    return next((reason for words, reason in _REFUSAL_REASONS if words in error.message), "other")


class RequestObserver(SchemaExtension):
    """Tells the request's record which operation ran and with which errors."""

    def get_results(self) -> dict[str, Any]:
        # Strawberry calls this once per execution, whatever its end, with the errors in
        # `pre_execution_errors` (parse, validation, limits and resolver errors alike).
        record = _current.get()
        if record is not None:
            record.executed = True
            record.operation = self.execution_context.operation_name
            record.errors = list(self.execution_context.pre_execution_errors or ())
        return {}


class MetricsMiddleware(HTTPMiddleware):
    """Counts and times every /graphql request, with the SQL statements it sent."""

    def handles(self, scope: Scope) -> bool:
        return super().handles(scope) and scope["path"] == "/graphql"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = RequestRecord()
        token = _current.set(record)
        started = time.perf_counter()
        response = ResponseSend(send)
        try:
            await self.app(scope, receive, response)
        finally:
            _current.reset(token)
            _observe(record, response.status, time.perf_counter() - started)


def _observe(record: RequestRecord, status: int, seconds: float) -> None:
    if record.executed:
        operation = _operation_label(record.operation)
        outcome = error_code(record.errors[0]) if record.errors else "ok"
    else:
        operation, outcome = "-", f"http_{status}"
    REQUESTS.labels(operation, outcome).inc()
    LATENCY.labels(operation).observe(seconds)
    STATEMENTS.labels(operation).observe(record.statements)
    for error in record.errors:
        if error_code(error) == "QUERY_TOO_COMPLEX":
            REFUSED_DOCUMENTS.labels(_refusal_reason(error)).inc()


# --- the database -------------------------------------------------------------------------


def _count_statement(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    # SQLite's BEGIN is sent as a statement, PostgreSQL's by the driver: count neither.
    record = _current.get()
    if record is not None and not statement.startswith("BEGIN"):
        record.statements += 1


def _checked_out(*_args: Any) -> None:
    POOL_IN_USE.inc()


def _checked_in(*_args: Any) -> None:
    POOL_IN_USE.dec()


def _time_waits(pool: QueuePool) -> None:
    """Times the connection requests that find the pool exhausted. SQLAlchemy has no event for a
    wait, so the pool's own getter is wrapped; whether it will block is read from its public
    counters first, so requests that do not wait cost nothing extra."""
    acquire: Callable[[], Any] = pool._do_get
    capacity = pool.size() + max(pool._max_overflow, 0)
    unbounded = pool._max_overflow < 0

    def acquire_timed() -> Any:
        if unbounded or pool.checkedin() > 0 or pool.checkedout() < capacity:
            return acquire()
        POOL_WAITS.inc()
        started = time.perf_counter()
        try:
            return acquire()
        except PoolTimeout:
            POOL_TIMEOUTS.inc()
            raise
        finally:
            POOL_WAIT_SECONDS.observe(time.perf_counter() - started)

    pool._do_get = acquire_timed  # type: ignore[method-assign]


def instrument_database(db: Database) -> None:
    """Counts each request's statements and the pool's connections; idempotent per database."""
    engine = db.engine.sync_engine
    if event.contains(engine, "before_cursor_execute", _count_statement):
        return
    event.listen(engine, "before_cursor_execute", _count_statement)
    pool: Pool = engine.pool
    event.listen(pool, "checkout", _checked_out)
    event.listen(pool, "checkin", _checked_in)
    if isinstance(pool, QueuePool):
        _time_waits(pool)


# --- the endpoint and the hook ---------------------------------------------------------------


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR))


def _process_metrics() -> bytes:
    if not multiprocess_mode():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def metrics_endpoint(token: str, db: Database) -> Callable[[Request], Any]:
    expected = f"Bearer {token}".encode()

    async def metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            return PlainTextResponse(
                "A bearer token is required.", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        state: OutboxState | None
        try:
            state = await outbox_state(db)
        except Exception:
            logger.warning("reading the outbox for /metrics failed", exc_info=True)
            state = None
        outbox = CollectorRegistry()
        outbox.register(OutboxCollector(state))
        return Response(_process_metrics() + generate_latest(outbox), media_type=CONTENT_TYPE_LATEST)

    return metrics


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard OTEL_* variables ask for traces: an exporter named (other than `none`) or
    an OTLP endpoint given, and the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER")
    if exporters is not None:
        return any(name.strip().lower() not in ("", "none") for name in exporters.split(","))
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


@dataclass
class Observability:
    """What the app adds for operators: routes, ASGI middleware (outermost first) and schema
    extensions; `tracer_provider` is set while tracing."""

    routes: list[BaseRoute] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    schema_extensions: list[Any] = field(default_factory=list)
    tracer_provider: Any = None


def observe(settings: Settings, db: Database) -> Observability:
    """Metrics when CLIENTAREA_METRICS_TOKEN is set, traces when the OTEL_* variables ask."""
    observed = Observability()
    if tracing_requested():
        # Imported only when asked: OpenTelemetry is not loaded into every process.
        from clientarea.tracing import start_tracing

        provider, middleware, extensions = start_tracing(db)
        observed.tracer_provider = provider
        observed.middleware += middleware
        observed.schema_extensions += extensions
    if settings.metrics_token:
        enable_metrics(db)
        observed.routes.append(
            Route("/metrics", metrics_endpoint(settings.metrics_token, db), methods=["GET"])
        )
        observed.middleware.append(Middleware(MetricsMiddleware))
        observed.schema_extensions.append(RequestObserver)
    return observed


def enable_metrics(db: Database) -> None:
    """Per process: instrument the database and, in multi-process mode, drop this process's live
    gauges when it exits, so a stopped worker's connections are not counted as in use."""
    instrument_database(db)
    if multiprocess_mode():
        atexit.register(mark_process_dead, os.getpid())
