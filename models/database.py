"""The database engine and session factory; one per process, shared by every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Row, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable

from models.availability import Breaker
from models.sqlite_driver import one_trip_dbapi


class _SharedReads:
    """The session one request's reads share while it lasts (`Database.shared_reads`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.session: AsyncSession | None = None
        # The connection, once `rows` has read on it: its own, checked out for it (a session made
        # later is bound to it), or the session's.
        self.connection: AsyncConnection | None = None
        self.owns_connection = False
        self.busy = False
        # Set while the batch reading is one statement of `rows`, which awaits nothing else.
        self.busy_with_rows = False
        # Set when a batch waits for that statement to end (`Database.rows`).
        self.free: asyncio.Event | None = None
        self.closed = False
        # Another batch of the request wanted a session while this one read.
        self.contended = False

    async def release(self) -> None:
        """Gives the connection back to the pool; the next batch checks one out again."""
        connection, self.connection = self.connection, None
        session, self.session = self.session, None
        try:
            if session is not None:
                await session.close()
        finally:
            if connection is not None and self.owns_connection:
                self.owns_connection = False
                await connection.close()

    async def close(self) -> None:
        """Releases the connection for good: a batch that starts later gets a session of its own."""
        self.closed = True
        await self.release()


_shared_reads: ContextVar[_SharedReads | None] = ContextVar("clientarea_shared_reads", default=None)


class StatementCounter:
    """Counts SQL statements sent by an engine; tests use it to prove batching."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []
        self.parameters: list[Any] = []

    def reset(self) -> None:
        self.count = 0
        self.statements = []
        self.parameters = []

    def record(self, statement: str, parameters: Any) -> None:
        self.count += 1
        self.statements.append(statement)
        self.parameters.append(parameters)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN, so writers can take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get("sqlite_statement_transactions", False):
        # A read batch is one statement (or a few that need no common snapshot): SQLite runs each
        # in a transaction of its own, and an explicit BEGIN and its end would cost two more trips
        # through the connection's worker thread per batch.
        return
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    # writer got there first; units of work therefore take the write lock when they begin.
    immediate = options.get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# A server drops pooled connections when it restarts or fails over, so a connection is pinged when
# it is checked out, but only one that lay idle in the pool for longer than this: under load a
# connection comes back and goes out again within milliseconds, and a ping per checkout (BEGIN,
# an empty statement, ROLLBACK: three round trips) cost more than a read. A connection dropped
# while in use fails its statement either way.
PING_AFTER_IDLE_SECONDS = 1.0


def _stamp_returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["returned_at"] = time.monotonic()


def _ping_if_idle(dialect: Any) -> Callable[..., None]:
    def ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("the pooled connection did not answer its ping") from error

    return ping


# How long opening a PostgreSQL connection may take (asyncpg waits a minute by default).
CONNECT_TIMEOUT_SECONDS = 5.0


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 10.0) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # Whether independent reads of one request may be sent at once, each on a connection of
        # its own (`reads_overlap`): a server runs them side by side while this process waits.
        # SQLite runs each in a thread of this process, where a second connection's checkout and
        # the threads' turns at the interpreter cost more than the overlap saves (ExpiringDomains
        # at 1,000 accounts: +6 % on SQLite, -10 % on PostgreSQL).
        self.overlaps_reads = not self.is_sqlite
        # A server can drop pooled connections (restart, failover): a connection idle in the pool
        # for a while is pinged on checkout (`_ping_if_idle`). A SQLite file cannot.
        # orjson reads JSON columns (specifications, nameservers) several times faster than json;
        # they are still written by json.dumps, so what is stored does not change.
        options: dict[str, Any] = {"json_deserializer": orjson.loads}
        if self.is_sqlite and parsed.get_driver_name() == "aiosqlite":
            # A statement in one trip through aiosqlite's thread, not four (models/sqlite_driver.py).
            options["module"] = one_trip_dbapi()
        if not self.is_sqlite:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=pool_timeout)
            if parsed.get_driver_name() == "asyncpg":
                options["connect_args"] = {
                    "timeout": CONNECT_TIMEOUT_SECONDS,
                    # asyncpg prepares every statement, and after five runs PostgreSQL may plan it
                    # once for any viewer ("generic plan"), on the average viewer's few
                    # memberships; an agency with ten thousand accounts then gets a plan that
                    # reads every row of theirs one by one. A plan per run (well under a
                    # millisecond to make) fits each viewer.
                    "server_settings": {"plan_cache_mode": "force_custom_plan"},
                }
        self.engine: AsyncEngine = create_async_engine(url, **options)
        reader = writer = self.engine
        if not self.is_sqlite:
            reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            reader = self.engine.execution_options(sqlite_statement_transactions=True)
            writer = self.engine.execution_options(sqlite_immediate=True)
        self.counter = StatementCounter()
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count)
        self.breaker = Breaker()
        if not self.is_sqlite:
            pool = self.engine.sync_engine.pool
            event.listen(pool, "connect", _stamp_returned)
            event.listen(pool, "checkin", _stamp_returned)
            event.listen(pool, "checkout", _ping_if_idle(self.engine.sync_engine.dialect))
        event.listen(self.engine.sync_engine.pool, "checkout", self._reachable)
        self.reader = reader
        self.sessionmaker = async_sessionmaker(reader, expire_on_commit=False)
        self.writer = async_sessionmaker(writer, expire_on_commit=False)

    @property
    def reads_overlap(self) -> bool:
        """Whether a request's independent reads go at once now: where the database runs them side
        by side, and only while at most a quarter of the pool is checked out. Under load the
        overlap only adds connections and tasks to a machine already busy (16 clients on one
        worker: 4-19 % fewer requests a second with it); a request alone gets its answer sooner
        (-10 %)."""
        if not self.overlaps_reads:
            return False
        pool: Any = self.engine.sync_engine.pool
        return bool(pool.checkedout() <= pool.size() // 4)

    def _count(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            self.counter.record(statement, parameters)

    def _reachable(self, *_args: Any) -> None:
        self.breaker.reachable()

    @asynccontextmanager
    async def _available(self) -> AsyncIterator[None]:
        """Refuses at once while the database is away; turns its being away or too busy into
        DatabaseUnavailable, so callers answer 503 rather than report a bug."""
        probing = self.breaker.admit()
        try:
            yield
        except Exception as error:
            unavailable = self.breaker.failed(error)
            if unavailable is None or unavailable is error:
                raise
            raise unavailable from error
        finally:
            if probing:
                self.breaker.probe_done()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back when it raises.

        The request's idle read connection goes back to the pool first: a request waiting for a
        connection while it holds another would, under load, leave every pooled connection held by
        a request waiting for one more."""
        shared = _shared_reads.get()
        if shared is not None and shared.db is self and not shared.busy:
            await shared.release()
        async with self._available(), self.writer.begin() as session:
            yield session

    async def _wait_under_load(self) -> None:
        """Under load, a read waits for the statement another batch of the request is reading on
        the shared connection rather than check out one more: with the pool a quarter out, another
        connection per request only adds to a machine already busy (`reads_overlap`). A batch in
        a session block (`read()`) may await anything, this one included, so only a statement of
        `rows` is waited for."""
        shared = _shared_reads.get()
        while (
            shared is not None
            and shared.db is self
            and shared.busy_with_rows
            and not shared.closed
            and self.overlaps_reads
            and not self.reads_overlap
        ):
            if shared.free is None:
                shared.free = asyncio.Event()
            await shared.free.wait()

    def _turn(self) -> _SharedReads | None:
        """The request's shared reads when this batch may use them now, else None: outside
        `shared_reads`, after it, or while another batch reads (which then learns of this one)."""
        shared = _shared_reads.get()
        if shared is None or shared.db is not self or shared.closed:
            return None
        if shared.busy:
            shared.contended = True
            return None
        shared.busy = True
        return shared

    async def _end_turn(self, shared: _SharedReads) -> None:
        shared.busy = False
        shared.busy_with_rows = False
        if shared.free is not None:
            free, shared.free = shared.free, None
            free.set()
        if shared.contended:
            # A batch of the same request waited for a connection of its own meanwhile: the idle
            # one goes back, so no request holds one while it waits for another (with every
            # request doing so at once, the pool would run dry for all of them).
            shared.contended = False
            await shared.release()
        if shared.closed:
            # The request ended while this batch read (a resolver left running): close here.
            await shared.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for one batch of reads: the request's shared one when it is free (see
        `shared_reads`), else a short-lived one of its own."""
        shared = self._turn()
        if shared is None:
            async with self._available(), self.sessionmaker() as session:
                yield session
            return
        try:
            async with self._available():
                if shared.session is None:
                    # Bound to the connection `rows` read on, if it did: still one per request.
                    bound = {} if shared.connection is None else {"bind": shared.connection}
                    shared.session = self.sessionmaker(**bound)
                session = shared.session
                try:
                    yield session
                except BaseException:
                    # Whatever failed may have left the connection unusable: start over.
                    await shared.release()
                    raise
                # Rows read stay as loaded for whoever holds them; the next batch reads afresh.
                if session.identity_map:
                    session.expunge_all()
        finally:
            await self._end_turn(shared)

    async def rows(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """The rows of a statement that selects columns, not entities, read on the connection
        `read()` would use (the request's shared one when it is free, else one of its own).

        It runs on the connection, not through a session: there a statement that names a mapped
        class anywhere (a column of it, a condition on it) takes the ORM's execution path, which
        yields the same rows for such a statement and costs about a fifth of a millisecond more
        per statement on this project's reads (its setup, a row processor per column, the
        instances' loading step); and a batch that cannot share needs no session to be made."""
        values = dict(parameters or {})
        await self._wait_under_load()
        shared = self._turn()
        if shared is not None:
            shared.busy_with_rows = True
        if shared is None:
            async with self._available(), self.reader.connect() as connection:
                return (await connection.execute(statement, values)).all()
        try:
            async with self._available():
                try:
                    if shared.connection is None:
                        if shared.session is None:
                            shared.connection = await self.reader.connect()
                            shared.owns_connection = True
                        else:
                            shared.connection = await shared.session.connection()
                    return (await shared.connection.execute(statement, values)).all()
                except BaseException:
                    await shared.release()
                    raise
        finally:
            await self._end_turn(shared)

    @asynccontextmanager
    async def shared_reads(self) -> AsyncIterator[None]:
        """Within the block, `read()` reuses one session and its connection rather than checking
        one out (a ping on PostgreSQL) per batch. A batch that starts while another is reading
        gets its own session, so concurrent resolvers never share one, and nested reads cannot
        wait on each other; the shared connection then goes back when its batch ends. A write
        (`begin`) first gives the idle connection back. Reads run in
        autocommit mode on PostgreSQL: each statement sees what committed before it, and a failed
        one cannot leave a transaction aborted for the next."""
        shared = _SharedReads(self)
        token = _shared_reads.set(shared)
        try:
            yield
        finally:
            _shared_reads.reset(token)
            shared.closed = True
            if not shared.busy:
                await shared.close()

    async def ping(self) -> None:
        """Raises DatabaseUnavailable unless the database answers."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
