"""Breaking things on purpose: a TCP proxy that cuts a server off its database and lets it back,
and `clientarea serve` as a process the test can kill."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to the upstream. `stop()` closes the listener and cuts every open
    connection, as a database host that goes away does; `start()` listens on the same port again."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        if self._server is None:  # stopped while connecting upstream
            client_writer.transport.abort()
            upstream_writer.transport.abort()
            return
        self._writers.update((client_writer, upstream_writer))
        for reader, writer in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            pipe = asyncio.create_task(self._pipe(reader, writer))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@asynccontextmanager
async def tcp_proxy(upstream_host: str, upstream_port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(upstream_host, upstream_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def log_records(log: str) -> Iterator[dict[str, Any]]:
    """The complete JSON records of a log the server may still be writing to."""
    # Only a line that ends in a newline is whole; and not splitlines(): a record may hold U+2028.
    *complete, _being_written = log.split("\n")
    return (json.loads(line) for line in complete if line.startswith("{"))


@dataclass
class ServerProcess:
    """A running `clientarea serve`: its base URL, its process and the file its log goes to."""

    base_url: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_end(self) -> int:
        """Where the log's complete lines end: read from here on, the next record is whole."""
        return self.log.rfind("\n") + 1

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback, no closing of connections."""
        self.process.kill()
        await self.process.wait()


@asynccontextmanager
async def server_process(
    database_url: str, log_path: Path, *, workers: int = 1, **settings: str
) -> AsyncIterator[ServerProcess]:
    """`clientarea serve` on a free port, logging to `log_path`; unlike `tests.servers.clientarea_server`
    it hands out the process and does not need the database to start."""
    port = free_port()
    env = {
        **os.environ,
        "CLIENTAREA_DATABASE_URL": database_url,
        "CLIENTAREA_COOKIE_SECURE": "false",
        "CLIENTAREA_PASSWORD_MEMORY_KIB": "1024",
        "CLIENTAREA_PASSWORD_TIME_COST": "1",
        "CLIENTAREA_MAIL_ENABLED": "false",
        **{f"CLIENTAREA_{key.upper()}": value for key, value in settings.items()},
    }
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "clientarea.cli",
            "serve",
            "--port",
            str(port),
            "--no-migrate",
            "--workers",
            str(workers),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            for _ in range(100):
                with suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"server did not start:\n{server.log}")
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
