"""The Prometheus metrics every process records (clientarea/observability.py records and serves them).

With PROMETHEUS_MULTIPROC_DIR set before this module is first imported (`clientarea serve` does so
when CLIENTAREA_METRICS_TOKEN is set), every uvicorn worker writes its values to files there and
`/metrics` answers for all of them. Kept free of project imports, so any layer may count here.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "clientarea_graphql_requests",
    "Requests to /graphql by operation name and outcome: ok, the first error's code, or http_<status> "
    "when no operation ran (GraphiQL, a refused body or token).",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "clientarea_graphql_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STATEMENTS = Histogram(
    "clientarea_graphql_sql_statements",
    "SQL statements one request sent, by operation name.",
    ["operation"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233),
)
REFUSED_DOCUMENTS = Counter(
    "clientarea_graphql_refused_documents",
    "Documents refused before they ran (QUERY_TOO_COMPLEX), by the limit they broke: "
    "depth, aliases, tokens, directives, cost or selections.",
    ["reason"],
)
RATE_LIMIT_REFUSALS = Counter(
    "clientarea_rate_limit_refusals",
    "Requests refused with RATE_LIMITED (sign-in throttling, sign-up, invitation and other limits).",
)
POOL_IN_USE = Gauge(
    "clientarea_db_pool_connections_in_use",
    "Database connections checked out of the pool, summed over the live processes.",
    multiprocess_mode="livesum",
)
POOL_WAITS = Counter(
    "clientarea_db_pool_waits",
    "Connection requests that found every connection of the pool (and its overflow) in use and waited.",
)
POOL_WAIT_SECONDS = Histogram(
    "clientarea_db_pool_wait_seconds",
    "How long the requests that waited for a connection waited.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30),
)
POOL_TIMEOUTS = Counter(
    "clientarea_db_pool_timeouts",
    "Connection requests that waited longer than CLIENTAREA_DB_POOL_TIMEOUT_SECONDS and failed.",
)
ADMISSION_WAITING = Gauge(
    "clientarea_graphql_requests_waiting",
    "Requests waiting for a turn to run (CLIENTAREA_MAX_CONCURRENT_REQUESTS per process), summed "
    "over the live processes.",
    multiprocess_mode="livesum",
)
ADMISSION_WAIT_SECONDS = Histogram(
    "clientarea_graphql_request_wait_seconds",
    "How long the requests that found every turn taken waited for one.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ADMISSION_REFUSALS = Counter(
    "clientarea_graphql_requests_refused_waiting",
    "Requests answered 503 after waiting longer than CLIENTAREA_REQUEST_WAIT_SECONDS for a turn.",
)
