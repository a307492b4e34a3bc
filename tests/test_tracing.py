"""OpenTelemetry tracing: off unless the OTEL_* variables ask; then each request has an HTTP span, a
GraphQL span named after its operation and a span per SQL statement, and no secret in any of them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from clientarea import tracing
from clientarea.app import create_app
from clientarea.observability import tracing_requested
from models.database import Database
from resolvers.core.credentials import hash_password
from resolvers.core.settings import Settings
from tests.factories import create_user

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_switched_on_by_the_standard_variables(environ: dict[str, str], requested: bool) -> None:
    assert tracing_requested(environ) is requested


def test_an_unknown_exporter_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown exporter 'zipkin-ish'"):
        tracing.span_exporters({"OTEL_TRACES_EXPORTER": "zipkin-ish"})


def test_the_otlp_exporter_is_the_default() -> None:
    exporters = tracing.span_exporters({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})

    assert [type(e).__name__ for e in exporters] == ["OTLPSpanExporter"]
    for exporter in exporters:
        exporter.shutdown()


async def test_without_the_variables_nothing_is_traced(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)

    assert create_app(settings, db).state.tracer_provider is None


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on as OTEL_TRACES_EXPORTER=console asks, with the spans kept in memory instead."""
    memory = InMemorySpanExporter()

    def exporters(_environ: Mapping[str, str]) -> list[SpanExporter]:
        return [memory]

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setattr(tracing, "span_exporters", exporters)
    yield memory
    SQLAlchemyInstrumentor().uninstrument()


def _attributes(span: ReadableSpan) -> str:
    return " ".join(f"{key}={value!s}" for key, value in (span.attributes or {}).items())


async def test_a_request_is_traced_over_http_graphql_and_sql(
    spans: InMemorySpanExporter, settings: Settings, db: Database
) -> None:
    await create_user(db, email="erika@example.com", password_hash=await hash_password(settings, PASSWORD))
    app = create_app(settings, db)
    sign_in = (
        f'mutation SignIn {{ signIn(input: {{email: "erika@example.com", password: "{PASSWORD}"}}) '
        "{ user { email } userErrors { code } } }"
    )

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        signed_in = await c.post("/graphql", json={"query": sign_in})
        await c.post(
            "/graphql",
            json={
                "query": "query Catalogue($first: Int) { products(first: $first) { totalCount } }",
                "variables": {"first": 2},
            },
        )
        await c.get("/healthz")
    assert app.state.tracer_provider.force_flush()

    finished = spans.get_finished_spans()
    names = [span.name for span in finished]
    assert signed_in.json()["data"]["signIn"]["user"] == {"email": "erika@example.com"}
    assert "GraphQL Query: SignIn" in names
    assert "GraphQL Query: Catalogue" in names
    assert names.count("POST /graphql") == 2
    assert not any("healthz" in name for name in names)
    sql = [span for span in finished if (span.attributes or {}).get("db.statement")]
    assert sql, names
    catalogue = next(span for span in finished if span.name == "GraphQL Query: Catalogue")
    http = [span for span in finished if span.name == "POST /graphql"]
    assert catalogue.context is not None
    assert catalogue.parent is not None
    assert catalogue.context.trace_id in {span.context.trace_id for span in http if span.context}
    assert any(span.context and span.context.trace_id == catalogue.context.trace_id for span in sql)
    # The password was inline in the document: no span may carry it.
    assert all(PASSWORD not in _attributes(span) for span in finished)
    query = next(span for span in finished if span.name == "GraphQL Query: SignIn").attributes or {}
    assert 'password: ""' in str(query["query"])
