"""What the app's ASGI middleware share: the requests a middleware does not handle pass straight
through, and the response's start is noted (and may be amended) on its way out."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HTTPMiddleware:
    """Calls `handle` for the HTTP requests `handles` accepts; everything else goes to the app as is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def handles(self, scope: Scope) -> bool:
        return bool(scope["type"] == "http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.handles(scope):
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class ResponseSend:
    """Passes each message on, noting whether the response has started and with which status
    (500 until it has); `amend` may rewrite the start message before it goes out."""

    def __init__(self, send: Send, amend: Callable[[Message], Message] | None = None) -> None:
        self._send = send
        self._amend = amend
        self.started = False
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self._amend is not None:
                message = self._amend(message)
            self.status = message["status"]
        await self._send(message)
