"""A small GraphQL-over-HTTP client for tests: one instance is one browser or one integration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from models.database import Database


class Response:
    def __init__(self, http: httpx.Response) -> None:
        self.http = http
        self.body: dict[str, Any] = http.json()

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str | None]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def payload(self, field: str) -> dict[str, Any]:
        assert not self.errors, self.errors
        value: dict[str, Any] = self.data[field]
        return value

    def user_error_codes(self, field: str) -> list[str]:
        return [e["code"] for e in self.payload(field)["userErrors"]]


class Api:
    def __init__(self, make_client: Callable[[], httpx.AsyncClient], db: Database) -> None:
        self._make_client = make_client
        self.client = make_client()
        self.db = db
        self.token: str | None = None

    def new(self) -> Api:
        """Another browser: no cookies shared with this one."""
        return Api(self._make_client, self.db)

    def with_token(self, token: str) -> Api:
        other = Api(self._make_client, self.db)
        other.token = token
        return other

    def set_session(self, secret: str) -> None:
        self.client.cookies.set("clientarea_session", secret)

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> Response:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.token:
            sent.setdefault("authorization", f"Bearer {self.token}")
        http = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        return Response(http)

    async def count(self, query: str, variables: dict[str, Any] | None = None) -> tuple[Response, int]:
        """The response and how many SQL statements the request sent."""
        self.db.counter.reset()
        response = await self(query, variables)
        return response, self.db.counter.count
