"""`clientarea serve --workers N`: every worker process writes its JSON access lines, request IDs
included (logging is configured in each worker, not only in the process that starts them)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.outages import log_records, server_process

PRODUCTS = "{ products(first: 1) { totalCount } }"


@pytest.mark.e2e
async def test_two_workers_both_write_access_lines_with_request_ids(
    database_url: str, tmp_path: Path
) -> None:
    async with server_process(database_url, tmp_path / "server.log", workers=2) as server:
        sent: list[str] = []
        writers: set[int] = set()
        deadline = time.monotonic() + 30
        # The kernel hands each new connection to one of the workers; keep opening new ones until
        # both have answered (a handful of rounds in practice).
        while len(writers) < 2:
            assert time.monotonic() < deadline, f"access lines came from {writers} only:\n{server.log}"

            async def ask(number: int) -> None:
                request_id = f"worker-log-{len(sent) + number:05d}"
                async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                    response = await http.post(
                        "/graphql", json={"query": PRODUCTS}, headers={"x-request-id": request_id}
                    )
                assert response.status_code == 200, response.text
                sent.append(request_id)

            await asyncio.gather(*(ask(number) for number in range(8)))
            await asyncio.sleep(0.2)
            access = [r for r in log_records(server.log) if r.get("logger") == "clientarea.access"]
            writers = {r["pid"] for r in access}

        await asyncio.sleep(0.5)
        access = [r for r in log_records(server.log) if r.get("logger") == "clientarea.access"]
    logged = {r["requestId"]: r for r in access if r.get("path") == "/graphql"}
    assert set(sent) <= set(logged), set(sent) - set(logged)
    assert {logged[request_id]["status"] for request_id in sent} == {200}
    assert server.process.pid not in writers
