"""A database that is away or too busy: told apart from bugs, refused fast while away, logged once."""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest
from sqlalchemy import exc, text

from models.availability import Breaker, DatabaseUnavailable, classify
from models.database import Database
from tests.conftest import make_settings
from tests.factories import create_user

WENT_AWAY = "database unavailable"


def test_connection_failures_are_outages_and_timeouts_are_busy() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed")
    locked = sqlite3.OperationalError("database is locked")
    missing = sqlite3.OperationalError("unable to open database file")

    outage = classify(refused)
    assert outage is not None
    assert outage.outage
    assert outage.retry_after == 2
    busy = classify(exc.TimeoutError("QueuePool limit of size 1 overflow 1 reached"))
    assert busy is not None
    assert not busy.outage
    assert busy.retry_after == 1
    wrapped_lock = classify(exc.OperationalError("SELECT 1", {}, locked))
    assert wrapped_lock is not None
    assert not wrapped_lock.outage
    wrapped_missing = classify(exc.OperationalError("SELECT 1", {}, missing))
    assert wrapped_missing is not None
    assert wrapped_missing.outage


def test_bugs_and_bad_data_are_not_unavailability() -> None:
    assert classify(ValueError("bad")) is None
    assert classify(exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE failed"))) is None
    assert classify(sqlite3.OperationalError("no such table: x")) is None


def test_an_open_breaker_refuses_at_once_and_lets_one_probe_through_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    breaker = Breaker(probe_interval=0.2)
    with caplog.at_level(logging.INFO, logger="clientarea.database"):
        # Given the database went away (many requests saw it),
        for _ in range(5):
            assert breaker.failed(ConnectionRefusedError(111, "refused")) is not None
        # then callers are refused without trying,
        with pytest.raises(DatabaseUnavailable) as refused:
            breaker.admit()
        assert refused.value.outage
        # one caller probes once the interval has passed while the others are still refused,
        time.sleep(0.25)
        assert breaker.admit() is True
        with pytest.raises(DatabaseUnavailable):
            breaker.admit()
        # and a probe that reaches the database closes the breaker.
        breaker.reachable()
        assert breaker.admit() is False

    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if line.startswith(WENT_AWAY)]) == 1, lines
    assert len([line for line in lines if line.startswith("database available again")]) == 1, lines
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.usefixtures("postgres_only")
async def test_a_lock_timeout_is_a_busy_database_not_a_bug(db: Database, database_url: str) -> None:
    user = await create_user(db, email="locked@example.com")
    other = Database(make_settings(database_url).database_url)

    async def lock_with_a_timeout() -> None:
        async with other.begin() as waiter:
            await waiter.execute(text("SET LOCAL lock_timeout = '100ms'"))
            await waiter.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user.id})

    try:
        async with db.begin() as holder:
            await holder.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user.id})
            with pytest.raises(DatabaseUnavailable) as raised:
                await lock_with_a_timeout()
        assert not raised.value.outage
        assert not other.breaker.is_open
    finally:
        await other.dispose()


async def test_an_unreachable_database_is_refused_at_once_after_the_first_failure() -> None:
    missing = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailable):
            await missing.ping()
        assert missing.breaker.is_open
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await missing.ping()
        assert time.monotonic() - started < 0.1  # refused without trying again
    finally:
        await missing.dispose()
