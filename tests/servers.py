"""Real servers for tests: an SMTP inbox (aiosmtpd) and `clientarea serve` in its own process."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        parsed: list[EmailMessage] = []
        for envelope in self.envelopes:
            assert isinstance(envelope.content, bytes)
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


class SlowInbox(Inbox):
    """Answers a message only once `proceed` is set; `arrived` tells that one is waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.proceed = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.arrived.set()
        await asyncio.to_thread(self.proceed.wait, 10)
        return await super().handle_DATA(server, session, envelope)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def smtp_server(inbox: Inbox, port: int) -> AsyncIterator[None]:
    # The controller runs its own event loop in a thread; starting and stopping block briefly.
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield
    finally:
        await asyncio.to_thread(controller.stop)


def link_token(message: EmailMessage, path: str) -> str:
    """The token of the `path?token=…` link in an email's plain-text part."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


@asynccontextmanager
async def clientarea_server(database_url: str, *, workers: int = 1, **settings: str) -> AsyncIterator[str]:
    """`clientarea serve` on a free port (with `workers` processes); yields its base URL and stops it
    at the end."""
    port = free_port()
    env = {
        **os.environ,
        "CLIENTAREA_DATABASE_URL": database_url,
        "CLIENTAREA_PASSWORD_MEMORY_KIB": "1024",
        "CLIENTAREA_PASSWORD_TIME_COST": "1",
        **{f"CLIENTAREA_{key.upper()}": value for key, value in settings.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clientarea.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-migrate",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            # Up to 30 seconds: a busy machine starts several workers slowly.
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("server did not start")
        yield base
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
        assert b"Traceback" not in stderr, stderr.decode()
