"""The /graphql endpoint: reads a GET or POST request, waits its turn (clientarea/admission.py),
authenticates it, resolves persisted documents, executes the operation and answers as the
GraphQL-over-HTTP spec asks.

Every answer is a GraphQL JSON body: refusals are `Refused` (clientarea/graphql_http.py), raised
anywhere below `handle` and turned into a response in `__call__`; an unexpected exception there
becomes a masked INTERNAL_SERVER_ERROR with the request ID (`unexpected`).
"""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache
from typing import Any, Literal

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry import Schema
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType as StrawberryOperationType

from clientarea.admission import Admission, NoTurn
from clientarea.graphiql import with_offline_notice
from clientarea.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    GraphQLParams,
    Refused,
    bad_request,
    graphql_response,
    negotiate,
    params_from_body,
    params_from_query_string,
    refusal_response,
    require_json_body,
)
from clientarea.origins import CookieOrigins
from clientarea.persisted import register, resolve_document
from models.availability import DatabaseUnavailable
from models.database import Database
from resolvers.core.context import Context
from resolvers.core.credentials import InvalidToken, SignedIn, authenticate
from resolvers.core.logs import current_request_id
from resolvers.core.settings import Settings
from resolvers.loaders import Loaders
from schema.core.availability import SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE
from schema.core.limits import MAX_TOKENS
from schema.schema import CACHE_SIZE, INTERNAL_ERROR_MESSAGE, error_code, let_go_of_traceback

error_logger = logging.getLogger("clientarea.errors")

# Root fields anyone gets the same answer for: a GET of nothing else may be cached by anyone.
PUBLIC_ROOT_FIELDS = frozenset({"products", "__typename"})
PUBLIC_CACHE_CONTROL = "public, max-age=60"
Outcome = Literal["ok", "field errors", "request error"]
_QUERY_ONLY = (StrawberryOperationType.QUERY,)
_QUERY_OR_MUTATION = (StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION)


@lru_cache(maxsize=CACHE_SIZE)
def _parse(query: str) -> DocumentNode | None:
    """The parsed document, or None: the schema then reports the syntax error in its own words."""
    try:
        return parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None


def select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation to run; several operations without `operationName`, or a name the document
    does not define, is a request error (GraphQL spec, GetOperation)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) > 1:
            raise bad_request("The document has several operations: name the one to run in `operationName`.")
        return operations[0] if operations else None
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise bad_request(f"The document has no operation named {name[:100]!r}.")


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: set[str] = set()
    pending: list[SelectionSetNode] = [operation.selection_set]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if (fragment := fragments.get(selection.name.value)) is not None:
                    pending.append(fragment.selection_set)
    return names


class GraphQLEndpoint:
    """GET and POST /graphql; GraphiQL for a browser asking for HTML when it is enabled."""

    def __init__(
        self, schema: Schema, db: Database, settings: Settings, cookie_origins: CookieOrigins
    ) -> None:
        self.schema = schema
        self.db = db
        self.settings = settings
        self.cookie_origins = cookie_origins
        self.admission = Admission(settings.max_concurrent_requests, settings.request_wait_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        media_type = negotiate(request.headers.get("accept"))
        try:
            async with self.db.shared_reads():
                response = await self.handle(request, media_type)
        except Refused as refused:
            response = refusal_response(refused, media_type)
        except Exception as error:
            response = refusal_response(self.unexpected(error), media_type)
        await response(scope, receive, send)

    def unexpected(self, error: Exception) -> Refused:
        """An exception outside execution (authentication and persisted documents read the
        database, which may be down): answered as a failing resolver is, the detail only logged."""
        if isinstance(error, DatabaseUnavailable | NoTurn):
            # The database's breaker logs the outage once, and Admission a wait too long; no
            # traceback per request.
            return Refused(
                SERVICE_UNAVAILABLE_MESSAGE,
                SERVICE_UNAVAILABLE,
                status=503,
                headers={"Retry-After": str(error.retry_after)},
            )
        error_logger.error("handling the request failed", exc_info=error)
        return Refused(
            INTERNAL_ERROR_MESSAGE,
            "INTERNAL_SERVER_ERROR",
            status=500,
            extensions={"requestId": current_request_id()},
        )

    async def handle(self, request: Request, media_type: str) -> Response:
        if request.method == "GET":
            if self._wants_graphiql(request):
                return self._graphiql()
            params = params_from_query_string(request.query_params.multi_items())
        elif request.method == "POST":
            require_json_body(request.headers.get("content-type"))
            params = params_from_body(await self._read_body(request))
        else:
            raise Refused(
                "GraphQL requests are GET (queries) or POST.",
                "METHOD_NOT_ALLOWED",
                status=405,
                headers={"Allow": "GET, POST"},
            )
        async with self.admission.turn():
            return await self._answer(request, params, media_type)

    async def _answer(self, request: Request, params: GraphQLParams, media_type: str) -> Response:
        signed_in = await self._authenticate(request)
        principal = signed_in.principal if signed_in is not None else None
        request.scope.setdefault("state", {})["principal"] = principal
        trusted_only = (
            self.settings.trusted_documents_only
            and principal is not None
            and principal.credential == "session"
        )
        document = await resolve_document(self.db, params, trusted_only=trusted_only)
        if not document.query:
            raise bad_request("The request has no `query`.")
        parsed = _parse(document.query)
        operation = select_operation(parsed, params.operation_name) if parsed is not None else None
        if (
            request.method == "GET"
            and operation is not None
            and operation.operation is not OperationType.QUERY
        ):
            raise Refused(
                "Only queries may be sent with GET; send mutations with POST.",
                "METHOD_NOT_ALLOWED",
                status=405,
                headers={"Allow": "POST"},
            )
        response, outcome = await self._execute(request, signed_in, params, document.query, media_type)
        if outcome != "request error" and document.register is not None:
            try:
                await register(
                    self.db, document.register, document.query, keep=self.settings.persisted_queries_max
                )
            except Exception:
                # The operation has run: its answer stands; the client sends the query again later.
                error_logger.warning("registering a persisted query failed", exc_info=True)
        public = (
            request.method == "GET"
            and parsed is not None
            and operation is not None
            and operation.operation is OperationType.QUERY
            and root_fields(parsed, operation) <= PUBLIC_ROOT_FIELDS
        )
        if public and outcome == "ok":
            response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
        return response

    async def _execute(
        self,
        request: Request,
        signed_in: SignedIn | None,
        params: GraphQLParams,
        query: str,
        media_type: str,
    ) -> tuple[Response, Outcome]:
        """The response, and whether it is clean, has field errors, or is a request error."""
        cookies = Response()
        context = Context(
            db=self.db,
            settings=self.settings,
            request=request,
            response=cookies,
            request_id=current_request_id() or uuid.uuid4().hex,
            principal=signed_in.principal if signed_in is not None else None,
            make_loaders=Loaders,
        )
        if signed_in is not None:
            context.loaders.user.prime(signed_in.user.id, signed_in.user)
        try:
            result = await self.schema.execute(
                query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=_QUERY_ONLY if request.method == "GET" else _QUERY_OR_MUTATION,
                operation_extensions=params.extensions,
            )
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError) as refused:
            raise bad_request(str(refused) or "The request has no operation to run.") from None
        finally:
            context.close()
        errors = result.errors or []
        for error in errors:
            # Parse errors never reach schema extensions, so every error without a code gets it here.
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), "code": error_code(error)}
        payload: dict[str, Any] = dict(process_result(result))
        for error in errors:
            # Answered: a request error raised before execution (a syntax error) still holds the
            # frames it passed, and Strawberry's execution context through them.
            let_go_of_traceback(error)
        # Nothing ran: the document did not parse or validate, a limit refused it, or its variables
        # did not coerce. The spec's new media type says so with 400 and no `data`.
        request_error = result.data is None and bool(errors) and all(e.path is None for e in errors)
        status = 200
        if request_error:
            payload["data"] = None
            if media_type == GRAPHQL_RESPONSE_JSON:
                payload.pop("data")
                status = 400
        if cookies.status_code == 503:
            # A resolver found the database away (schema/core/availability.py).
            status = 503
        response = graphql_response(payload, status=status, media_type=media_type)
        for key, value in cookies.raw_headers:
            if key in (b"set-cookie", b"retry-after"):
                response.raw_headers.append((key, value))
        # Work a resolver left for after the answer (a queued password-reset link).
        response.background = cookies.background
        return response, "request error" if request_error else "field errors" if errors else "ok"

    async def _authenticate(self, request: Request) -> SignedIn | None:
        cookie = request.cookies.get(self.settings.cookie_name)
        try:
            return await authenticate(
                self.db,
                self.settings,
                cookie=cookie if cookie and self._same_site(request) else None,
                authorization=request.headers.get("authorization"),
            )
        except InvalidToken:
            raise Refused(
                "The API token is invalid, revoked or expired.",
                "UNAUTHENTICATED",
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None

    def _same_site(self, request: Request) -> bool:
        """Whether a cookie on this request may count: it comes from the dashboard, not another site."""
        return self.cookie_origins.permits(request)

    async def _read_body(self, request: Request) -> bytes:
        """The whole body, refused once it passes the limit (chunked bodies included)."""
        limit = self.settings.max_body_bytes
        too_large = Refused(f"The request body exceeds {limit} bytes.", "BAD_USER_INPUT", status=413)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _wants_graphiql(self, request: Request) -> bool:
        params = request.query_params
        return (
            "query" not in params
            and "extensions" not in params
            and "text/html" in request.headers.get("accept", "")
        )

    def _graphiql(self) -> Response:
        if not self.settings.graphiql_enabled:
            raise Refused("Not found.", "NOT_FOUND", status=404)
        return HTMLResponse(with_offline_notice(get_graphql_ide_html(graphql_ide="graphiql")))
