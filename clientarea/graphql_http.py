"""GraphQL over HTTP: media types, Accept negotiation, reading the request's parameters, and the
status and body of every answer (https://graphql.github.io/graphql-over-http/draft/).

Everything refused here is a `Refused`, answered as a GraphQL JSON body with `extensions.code`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# Nesting in `variables` and `extensions` beyond this is no real operation's input.
MAX_JSON_DEPTH = 32
# Integers past 64 bits are no GraphQL Int (32 bits) and cannot be counted or encoded safely.
MAX_JSON_INTEGER = 2**63 - 1

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"^\s*({_TOKEN})/({_TOKEN})\s*((?:;.*)?)$", re.DOTALL)
_PARAMETER = re.compile(rf'^\s*({_TOKEN})\s*=\s*({_TOKEN}|"(?:[^"\\]|\\.)*")\s*$', re.DOTALL)


class Refused(Exception):
    """A request answered by the HTTP layer itself, never executed.

    `status` None marks a GraphQL *request error* (malformed parameters, a document that does not
    parse or validate): 400 for `application/graphql-response+json`, 200 for legacy
    `application/json` as the spec asks. A number is used as it is (401, 405, 413, 415, 503…).
    """

    def __init__(
        self,
        message: str,
        code: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})

    def error(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code, **self.extensions}}


def bad_request(message: str) -> Refused:
    return Refused(message, "BAD_REQUEST")


# --- media types ---------------------------------------------------------------------------


def parse_media_type(value: str) -> tuple[str, dict[str, str]] | None:
    """`type/subtype` in lower case and its parameters, or None when the value is no media type
    (RFC 9110 section 8.3.1): `application/jsonx` and `text/application/json` stay what they are."""
    match = _MEDIA_TYPE.match(value)
    if match is None:
        return None
    kind = f"{match.group(1)}/{match.group(2)}".lower()
    parameters: dict[str, str] = {}
    for part in match.group(3).split(";")[1:]:
        if not part.strip():
            continue
        parameter = _PARAMETER.match(part)
        if parameter is None:
            return None
        raw = parameter.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        parameters[parameter.group(1).lower()] = raw
    return kind, parameters


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header: `application/graphql-response+json` when the
    client prefers it or names it as much as `application/json`; otherwise the legacy
    `application/json`, also for `*/*`, a missing header or one that names neither."""
    if not accept or not accept.strip():
        return JSON
    weights: dict[str, tuple[int, float]] = {}
    for candidate in (GRAPHQL_RESPONSE_JSON, JSON):
        main = candidate.split("/")[0]
        for item in accept.split(","):
            parsed = parse_media_type(item)
            if parsed is None:
                continue
            kind, parameters = parsed
            specificity = {candidate: 3, f"{main}/*": 2, "*/*": 1}.get(kind)
            if specificity is None:
                continue
            try:
                quality = float(parameters.get("q", "1"))
            except ValueError:
                continue
            if specificity > weights.get(candidate, (0, 0.0))[0]:
                weights[candidate] = (specificity, quality)
    new_specificity, new_quality = weights.get(GRAPHQL_RESPONSE_JSON, (0, 0.0))
    _, legacy_quality = weights.get(JSON, (0, 0.0))
    if new_specificity == 3 and new_quality > 0 and new_quality >= legacy_quality:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def require_json_body(content_type: str | None) -> None:
    """A POST body must be `application/json` (UTF-8): a cross-site form cannot send one."""
    parsed = parse_media_type(content_type) if content_type else None
    if parsed is None or parsed[0] != JSON:
        raise Refused(
            "POST bodies must be application/json.",
            "UNSUPPORTED_MEDIA_TYPE",
            status=415,
            headers={"Accept-Post": JSON},
        )
    charset = parsed[1].get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise Refused("Request bodies must be UTF-8.", "UNSUPPORTED_MEDIA_TYPE", status=415)


# --- request parameters --------------------------------------------------------------------


@dataclass(frozen=True)
class GraphQLParams:
    query: str | None
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None


def decode_json(raw: bytes | str, what: str) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request(f"The {what} is not valid JSON.") from None
    _check_bounds(value, what)
    return value


def _check_bounds(value: Any, what: str) -> None:
    """Refuses nesting and integers no operation needs, before anything recurses over them."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise bad_request(f"The {what} is nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_JSON_INTEGER:
            raise bad_request(f"The {what} holds a number beyond 64 bits.")


def params_from_body(body: bytes) -> GraphQLParams:
    if not body.strip():
        raise bad_request("The request body is empty; send a JSON object with a `query`.")
    data = decode_json(body, "request body")
    if isinstance(data, list):
        raise Refused(
            "Batched operations are not supported: send one operation per request.", "BAD_REQUEST", status=400
        )
    return params_from_object(data)


def params_from_object(data: Any) -> GraphQLParams:
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return GraphQLParams(
        query=_optional(data, "query", str, "a string"),
        operation_name=_optional(data, "operationName", str, "a string"),
        variables=_optional(data, "variables", dict, "an object"),
        extensions=_optional(data, "extensions", dict, "an object"),
    )


def params_from_query_string(items: Sequence[tuple[str, str]]) -> GraphQLParams:
    """GET parameters; `variables` and `extensions` are JSON text."""
    values: dict[str, Any] = {}
    for key, value in items:
        if key in values:
            raise bad_request(f"The parameter `{key}` is given more than once.")
        values[key] = value
    for key in ("variables", "extensions"):
        if values.get(key):
            values[key] = decode_json(values[key], f"`{key}` parameter")
        else:
            values.pop(key, None)
    if values.get("operationName") == "":
        values.pop("operationName")
    return params_from_object(values)


def _optional(data: dict[str, Any], key: str, kind: type, described: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise bad_request(f"`{key}` must be {described} or null.")
    return value


# --- answers -------------------------------------------------------------------------------


def encode(payload: object) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:
        # orjson stops at 64-bit integers; the standard encoder writes any integer.
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def graphql_response(
    payload: Mapping[str, Any],
    *,
    status: int,
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        encode(payload),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        # The media type follows Accept, so a cache must tell answers apart by it.
        headers={"Cache-Control": "private, no-store", "Vary": "Accept", **(headers or {})},
    )


def refusal_response(refused: Refused, media_type: str) -> Response:
    """A refusal as a GraphQL response. With `application/graphql-response+json` a request error
    carries no `data`; legacy `application/json` keeps `"data": null` as it always did."""
    if refused.status is not None:
        status = refused.status
    else:
        status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
    payload: dict[str, Any] = {"errors": [refused.error()]}
    if media_type == JSON:
        payload = {"data": None, **payload}
    return graphql_response(payload, status=status, media_type=media_type, headers=refused.headers)
