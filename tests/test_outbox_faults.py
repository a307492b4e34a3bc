"""The outbox under faults, with real server processes on PostgreSQL: a worker killed between
sending a message and recording it, and the database going away in that moment.

Delivery is at least once: the copy a crash causes carries the same Message-ID, and is counted.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from models.database import Database
from models.outbox import EmailStatus, OutboxEmail
from resolvers.core.outbox import enqueue
from tests.outages import ServerProcess, log_records, server_process, tcp_proxy
from tests.servers import SlowInbox, free_port, smtp_server

PARAMS = {"name": "Erika", "link": "https://clientarea.example/reset#t0ken", "expires": "12:00"}
LEASE_SECONDS = "3"
WAITING_TO_RECORD = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE '%outbox_emails%'"
)


async def _queue(db: Database) -> OutboxEmail:
    async with db.begin() as session:
        return enqueue(
            session, to="erika@example.com", template="password_reset", language="en", params=PARAMS
        )


async def _row(db: Database, email: OutboxEmail) -> OutboxEmail:
    async with db.read() as session:
        return (await session.scalars(select(OutboxEmail).where(OutboxEmail.id == email.id))).one()


async def _until_sent(db: Database, email: OutboxEmail, within: float) -> OutboxEmail:
    deadline = time.monotonic() + within
    while (row := await _row(db, email)).status is not EmailStatus.SENT:
        assert time.monotonic() < deadline, f"not sent within {within} s: {row.status}"
        await asyncio.sleep(0.1)
    return row


async def _waiting_to_record(db: Database, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    while True:
        async with db.read() as session:
            pid = await session.scalar(WAITING_TO_RECORD)
        if pid is not None:
            return int(pid)
        assert time.monotonic() < deadline, "the worker never tried to record the message"
        await asyncio.sleep(0.05)


def _mailing_server(
    database_url: str, log_path: Path, smtp_port: int
) -> AbstractAsyncContextManager[ServerProcess]:
    """`clientarea serve` delivering the outbox to the test's SMTP server, with a short lease."""
    return server_process(
        database_url,
        log_path,
        mail_enabled="true",
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        mail_from="no-reply@clientarea.example",
        mail_poll_seconds="0.2",
        mail_lease_seconds=LEASE_SECONDS,
    )


@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_a_worker_killed_between_send_and_record_resends_with_the_same_message_id(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    inbox = SlowInbox()
    smtp_port = free_port()
    queued = await _queue(db)
    async with smtp_server(inbox, smtp_port):
        # Given a worker has handed the message to the SMTP server, which accepts it while the test
        # holds the outbox row, so the worker cannot record it;
        async with _mailing_server(database_url, tmp_path / "killed.log", smtp_port) as first:
            assert await asyncio.to_thread(inbox.arrived.wait, 10)
            async with db.engine.connect() as row_lock:
                await row_lock.execute(
                    text("SELECT id FROM outbox_emails WHERE id = :id FOR UPDATE"), {"id": queued.id}
                )
                inbox.proceed.set()
                await _waiting_to_record(db)
                # when the worker is killed right there,
                await first.kill()
                await row_lock.rollback()
        assert len(inbox.envelopes) == 1
        assert (await _row(db, queued)).status is EmailStatus.PENDING

        # then another worker sends it again once the short lease has run out, recorded as a re-send,
        async with _mailing_server(database_url, tmp_path / "second.log", smtp_port) as second:
            row = await _until_sent(db, queued, within=float(LEASE_SECONDS) + 10)
            await asyncio.sleep(0.3)
            resent_lines = [
                r for r in log_records(second.log) if r["message"].startswith(f"email {queued.id} ")
            ]

    # with the same Message-ID, so the receiving side can drop the copy.
    assert len(inbox.messages) == 2
    assert {m["Message-ID"] for m in inbox.messages} == {f"<{queued.id}@clientarea.example>"}
    assert row.resends == 1
    assert row.attempts == 1
    assert row.sending_since is None
    assert row.locked_until is None
    assert [r["level"] for r in resent_lines] == ["warning"], resent_lines
    assert "sent again" in resent_lines[0]["message"]


@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_a_database_away_between_send_and_record_is_waited_for_and_nothing_is_sent_twice(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    inbox = SlowInbox()
    smtp_port = free_port()
    queued = await _queue(db)
    upstream = make_url(database_url)
    via_proxy_url = upstream.set(host="127.0.0.1")
    async with (
        smtp_server(inbox, smtp_port),
        tcp_proxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy,
    ):
        url = via_proxy_url.set(port=proxy.port).render_as_string(hide_password=False)
        async with _mailing_server(url, tmp_path / "server.log", smtp_port) as server:
            # Given the SMTP server has the message, when the database goes away before it answers
            assert await asyncio.to_thread(inbox.arrived.wait, 10)
            await proxy.stop()
            inbox.proceed.set()
            # and comes back a second later, within the lease,
            await asyncio.sleep(1.0)
            await proxy.start()

            # then the worker records the send it made: nothing is sent twice.
            row = await _until_sent(db, queued, within=10)
            await asyncio.sleep(float(LEASE_SECONDS) + 0.5)
            records = list(log_records(server.log))

    assert len(inbox.messages) == 1
    assert row.resends == 0
    assert (await _row(db, queued)).resends == 0
    assert not [r for r in records if "exception" in r], records
