"""A resolver that found the database away or too busy: the error becomes SERVICE_UNAVAILABLE and
the HTTP answer 503 with `Retry-After`, instead of a masked INTERNAL_SERVER_ERROR and a traceback."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from models.availability import DatabaseUnavailable

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
SERVICE_UNAVAILABLE_MESSAGE = "The service is unavailable right now; try again shortly."


def unavailability(error: GraphQLError) -> DatabaseUnavailable | None:
    original = error.original_error
    return original if isinstance(original, DatabaseUnavailable) else None


def service_unavailable(error: GraphQLError, unavailable: DatabaseUnavailable, context: Any) -> GraphQLError:
    """The error to answer instead; the request's HTTP status becomes 503 with `Retry-After`."""
    response = getattr(context, "response", None)
    if response is not None:
        response.status_code = 503
        response.headers["Retry-After"] = str(unavailable.retry_after)
    return GraphQLError(
        message=SERVICE_UNAVAILABLE_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": SERVICE_UNAVAILABLE},
    )
