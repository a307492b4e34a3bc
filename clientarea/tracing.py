"""Optional OpenTelemetry tracing: HTTP requests (ASGI), GraphQL operations (Strawberry's extension)
and SQL statements (SQLAlchemy), switched on by the standard OTEL_* variables."""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import Any

from graphql import DocumentNode, GraphQLResolveInfo, StringValueNode, Visitor, print_ast, visit
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind
from starlette.middleware import Middleware
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from models.database import Database

# Probes and scrapes every few seconds would drown the traces that matter.
UNTRACED_PATHS = "healthz,readyz,metrics"


def span_exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER names (default: OTLP)."""
    exporters: list[SpanExporter] = []
    for name in (environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(","):
        name = name.strip().lower()
        if name == "otlp":
            # OTLP over HTTP/protobuf; endpoint, headers and timeouts come from OTEL_EXPORTER_OTLP_*.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name not in ("", "none"):
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (use otlp, console or none)")
    return exporters


def tracer_provider(environ: Mapping[str, str] = os.environ) -> TracerProvider:
    """A provider exporting as the variables say."""
    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "clientarea"}
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in span_exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _no_arguments(_arguments: dict[str, Any], _info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
    # Arguments carry passwords, tokens and personal data: spans name fields, never their values.
    return {}


class _BlankStrings(Visitor):
    def enter_string_value(self, node: StringValueNode, *_args: Any) -> StringValueNode:
        return StringValueNode(value="", block=False)


def redacted_document(document: DocumentNode) -> str:
    """The operation as sent, with every string literal blanked (a password may be written inline)."""
    printed: str = print_ast(visit(document, _BlankStrings()))
    return printed


class GraphQLTracing(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry extension, recording the document without its string literals
    (the stock one records the query text as sent) and no argument values."""

    def on_operation(self) -> Generator[None, None, None]:
        context = self.execution_context
        span = self._tracer.start_span("GraphQL Query", kind=SpanKind.SERVER)
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        try:
            yield
        finally:
            if context.operation_name:
                span.update_name(f"GraphQL Query: {context.operation_name}")
            if context.graphql_document is not None:
                span.set_attribute("query", redacted_document(context.graphql_document))
            span.end()


def start_tracing(db: Database) -> tuple[TracerProvider, list[Middleware], list[Any]]:
    """Traces the database's statements; returns the provider, the ASGI middleware and the schema
    extension."""
    provider = tracer_provider()
    # The instrumentation declares SQLAlchemy < 2.1 only, though the engine events it listens to are
    # unchanged in 2.1 (tests/test_tracing.py checks the statement spans).
    SQLAlchemyInstrumentor().instrument(
        engine=db.engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    middleware = Middleware(OpenTelemetryMiddleware, excluded_urls=UNTRACED_PATHS, tracer_provider=provider)
    extension = lambda: GraphQLTracing(tracer_provider=provider, arg_filter=_no_arguments)  # noqa: E731
    return provider, [middleware], [extension]
