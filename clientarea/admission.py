"""How many GraphQL requests one process works on at once; the others wait their turn.

A process runs its requests on one event loop, one at a time between awaits. Sixteen at once are
not answered sooner in all than eight, but each holds a database connection, its rows and its
half-built answer while the others take turns: more connections than the pool keeps (each one past
it opened and closed again, tens of milliseconds of the database's time), more live objects for
every pass of the garbage collector, and a request's every await puts it at the back of a longer
line, so some are answered far later than the rest (16 clients on one worker, PostgreSQL: the
slowest hundredth took 2.5-3.5 times the median; with turns, 1.4-1.8 times).

Waiting requests are admitted in the order they came. One that waits longer than
CLIENTAREA_REQUEST_WAIT_SECONDS is answered 503 with `Retry-After` and SERVICE_UNAVAILABLE, as
when the database is too busy, and nothing of it runs. The body is read before a request waits,
so a slow sender holds no turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from resolvers.core.metrics import ADMISSION_REFUSALS, ADMISSION_WAIT_SECONDS, ADMISSION_WAITING

logger = logging.getLogger("clientarea.admission")

# What a client refused for waiting too long is told to wait.
RETRY_AFTER_SECONDS = 1
# A line about requests refused for waiting too long at most this often.
LOG_INTERVAL_SECONDS = 10.0


class NoTurn(Exception):
    """A request waited longer than it may for its turn."""

    retry_after = RETRY_AFTER_SECONDS


class Admission:
    """At most `limit` requests of this process run at once; the rest wait, first come first
    admitted, at most `wait_seconds` each."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._turns = asyncio.Semaphore(limit)
        self.waiting = 0
        self.running = 0
        self._logged_at = -LOG_INTERVAL_SECONDS

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Holds one of the turns for the block; raises NoTurn after waiting too long for one."""
        turns = self._turns
        if turns.locked():
            await self._wait(turns)
        else:
            # Free, and no one waiting: taken without suspending.
            await turns.acquire()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            turns.release()

    async def _wait(self, turns: asyncio.Semaphore) -> None:
        started = time.monotonic()
        self.waiting += 1
        ADMISSION_WAITING.inc()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await turns.acquire()
        except TimeoutError:
            ADMISSION_REFUSALS.inc()
            self._log_refusal()
            raise NoTurn from None
        finally:
            self.waiting -= 1
            ADMISSION_WAITING.dec()
        ADMISSION_WAIT_SECONDS.observe(time.monotonic() - started)

    def _log_refusal(self) -> None:
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL_SECONDS:
            self._logged_at = now
            logger.warning(
                "a request waited %.1f s for one of %d turns and was refused (%d waiting)",
                self.wait_seconds,
                self.limit,
                self.waiting,
            )
