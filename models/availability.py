"""When the database cannot answer: tell an outage or an overload from a bug, and stop asking a
database that is away until a probe finds it back.

Every unit of work and read goes through `Database.begin()`/`read()`, which turn these failures into
`DatabaseUnavailable`; the HTTP layer answers it with 503, `Retry-After` and SERVICE_UNAVAILABLE.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field

from sqlalchemy import exc

logger = logging.getLogger("clientarea.database")

# While the database is away, requests are refused at once and one request per interval probes it.
PROBE_INTERVAL_SECONDS = 1.0
# What a client is told to wait: during an outage, and when the database was only too busy.
OUTAGE_RETRY_AFTER_SECONDS = 2
BUSY_RETRY_AFTER_SECONDS = 1
# Lines about an overloaded database (no free connection, a lock timeout) at most this often.
BUSY_LOG_INTERVAL_SECONDS = 10.0

# SQLSTATEs of a database that is away (class 08: connection exceptions; shutting down, starting up).
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03"})
_OUTAGE_CLASSES = frozenset({"08"})
# ...and of one too busy to answer now: lock or statement timeout, deadlock, serialization failure,
# too many connections (class 53: insufficient resources).
_BUSY_STATES = frozenset({"55P03", "57014", "40P01", "40001"})
_BUSY_CLASSES = frozenset({"53"})
_SQLITE_OUTAGE = ("unable to open database file", "disk i/o error", "database disk image is malformed")
_SQLITE_BUSY = ("database is locked", "database table is locked")


class DatabaseUnavailable(Exception):
    """The database cannot answer now; not a bug. `outage`: it is away, else only too busy."""

    def __init__(self, reason: str, *, outage: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outage = outage

    @property
    def retry_after(self) -> int:
        return OUTAGE_RETRY_AFTER_SECONDS if self.outage else BUSY_RETRY_AFTER_SECONDS


def error_chain(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (DBAPI `orig`, GraphQL's `original_error`, causes and
    contexts), each once, at most 21."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        for wrapped in (getattr(current, "orig", None), getattr(current, "original_error", None)):
            pending.append(wrapped if isinstance(wrapped, BaseException) else None)
        pending.extend((current.__cause__, current.__context__))
    return seen


def _describe(error: BaseException) -> str:
    """A short reason for the log: the error's type and first line, never a traceback."""
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def classify(error: BaseException) -> DatabaseUnavailable | None:
    """The unavailability `error` stands for, or None when it is something else (a bug, bad data)."""
    if isinstance(error, DatabaseUnavailable):
        return error
    chain = error_chain(error)
    for link in chain:
        if isinstance(link, exc.TimeoutError):
            return DatabaseUnavailable("no free database connection: " + _describe(link), outage=False)
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            if state in _OUTAGE_STATES or state[:2] in _OUTAGE_CLASSES:
                return DatabaseUnavailable(_describe(link), outage=True)
            if state in _BUSY_STATES or state[:2] in _BUSY_CLASSES:
                return DatabaseUnavailable(_describe(link), outage=False)
        if isinstance(link, sqlite3.OperationalError):
            message = str(link).lower()
            if any(m in message for m in _SQLITE_OUTAGE):
                return DatabaseUnavailable(_describe(link), outage=True)
            if any(m in message for m in _SQLITE_BUSY):
                return DatabaseUnavailable(_describe(link), outage=False)
    for link in chain:
        # A connection refused, reset or timed out while connecting, or one that died under a query.
        if isinstance(link, OSError | exc.DisconnectionError) or (
            isinstance(link, exc.DBAPIError) and link.connection_invalidated
        ):
            return DatabaseUnavailable(_describe(link), outage=True)
    return None


@dataclass
class Breaker:
    """Open while the database is away: callers are refused at once instead of each waiting for a
    connection that will not come, and one caller per PROBE_INTERVAL_SECONDS tries it again.

    One log line when an outage starts and one when it ends, however many requests it refused.
    """

    probe_interval: float = PROBE_INTERVAL_SECONDS
    _open_since: float | None = None
    _next_probe: float = 0.0
    _probing: bool = False
    _refused: int = 0
    _reason: str = ""
    _busy_logged_at: float = field(default=-BUSY_LOG_INTERVAL_SECONDS)
    _busy_unlogged: int = 0

    @property
    def is_open(self) -> bool:
        return self._open_since is not None

    def admit(self) -> bool:
        """Raises DatabaseUnavailable while open; True when this caller is to probe the database."""
        if self._open_since is None:
            return False
        now = time.monotonic()
        if self._probing or now < self._next_probe:
            self._refused += 1
            raise DatabaseUnavailable(self._reason, outage=True)
        self._probing = True
        return True

    def probe_done(self) -> None:
        """The probe ended without reaching the database either way: the next caller probes."""
        self._probing = False

    def reachable(self) -> None:
        """A connection was handed out (it answered its ping): the database is back."""
        self._probing = False
        if self._open_since is None:
            return
        down = time.monotonic() - self._open_since
        logger.warning(
            "database available again after %.1f s; %d requests were refused meanwhile", down, self._refused
        )
        self._open_since = None
        self._refused = 0

    def failed(self, error: BaseException) -> DatabaseUnavailable | None:
        """Records an error from the database; returns what to raise instead when it is an
        unavailability, None when it is an ordinary error."""
        if isinstance(error, DatabaseUnavailable):
            return error  # refused, or recorded already by an inner unit of work
        unavailable = classify(error)
        if unavailable is None:
            return None
        now = time.monotonic()
        if unavailable.outage:
            self._probing = False
            self._next_probe = now + self.probe_interval
            if self._open_since is None:
                self._open_since = now
                self._reason = unavailable.reason
                logger.error("database unavailable (%s); answering 503 until it is back", unavailable.reason)
        else:
            self._busy_unlogged += 1
            if now - self._busy_logged_at >= BUSY_LOG_INTERVAL_SECONDS:
                logger.warning(
                    "database busy (%s); %d requests answered 503 since the last such line",
                    unavailable.reason,
                    self._busy_unlogged,
                )
                self._busy_logged_at = now
                self._busy_unlogged = 0
        return unavailable
