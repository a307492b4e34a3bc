"""Delivers the email outbox over SMTP: claim due messages, send each, record what happened.

At least once, never silently lost: a message is recorded as sent only after the SMTP server
accepted it, so a worker or database that goes away in between means it is sent again, with the
same Message-ID (receivers and our own sink drop the copy). Such re-sends are counted per message
(`resends`) and logged; a claim left by a crashed worker blocks its messages for one short lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import case, or_, select, update

from models.availability import DatabaseUnavailable
from models.base import utcnow
from models.database import Database
from models.outbox import EmailStatus, OutboxEmail
from resolvers.core.settings import Settings
from resolvers.password_resets.requests import answer_stale_reset_requests

logger = logging.getLogger("clientarea.mail")

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
# Each SMTP command may take this long at most; a whole message two thirds of the lease
# (CLIENTAREA_MAIL_LEASE_SECONDS), so a hung server costs a bounded delay and a send never outlives
# the lease it runs under.
COMMAND_TIMEOUT_SECONDS = 10.0
# While the database is away after a send, recording it is retried this often until the lease ends.
RECORD_RETRY_SECONDS = 0.5


@dataclass(frozen=True)
class Lease:
    """How long a claim holds a message, and how long one send may take within it."""

    length: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Lease:
        return cls(timedelta(seconds=settings.mail_lease_seconds))

    @property
    def send_timeout(self) -> float:
        return self.length.total_seconds() * 2 / 3


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    # None: upgrade with STARTTLS when the server offers it (aiosmtplib's default).
    start_tls: bool | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Reads `smtp://[user:pass@]host[:port][?starttls=true|false]` or `smtps://…`.

        Errors never quote the URL: it may carry the password.
        """
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError("CLIENTAREA_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("CLIENTAREA_SMTP_URL has no host")
        use_tls = parts.scheme == "smtps"
        start_tls = _starttls_option(parse_qs(parts.query).get("starttls"))
        if use_tls and start_tls:
            raise ValueError("smtps:// is TLS from the start; starttls=true does not apply")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("CLIENTAREA_SMTP_URL has an invalid port") from None
        return cls(
            hostname=parts.hostname,
            port=port or (465 if use_tls else 587 if start_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
        )


def _starttls_option(values: list[str] | None) -> bool | None:
    if not values:
        return None
    value = values[-1].lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("starttls in CLIENTAREA_SMTP_URL must be true or false")


def smtp_server(settings: Settings) -> SmtpServer | None:
    return SmtpServer.from_url(settings.smtp_url) if settings.smtp_url else None


def build_message(*, email: OutboxEmail, sender: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(now)
    # Derived from the outbox row, so a message sent twice (crash after sending, before recording
    # it) carries the same Message-ID and receiving systems can drop the duplicate.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{email.id}@{domain}>"
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


async def _send(server: SmtpServer | None, email: OutboxEmail, *, sender: str, within: float) -> None:
    if server is None:
        logger.info(
            "no SMTP server configured; email to %s: %s\n\n%s",
            email.to_address,
            email.subject,
            email.text_body,
        )
        return
    message = build_message(email=email, sender=sender, now=utcnow())
    async with asyncio.timeout(within):
        await aiosmtplib.send(
            message,
            hostname=server.hostname,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.use_tls,
            start_tls=server.start_tls,
            timeout=min(COMMAND_TIMEOUT_SECONDS, within),
        )


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failure: 30 s, 1 min, 2 min, … at most an hour."""
    delay: timedelta = RETRY_BASE * 2 ** (attempts - 1)
    return min(delay, RETRY_CAP)


def _describe(error: BaseException) -> str:
    # The exception text, never the settings: the SMTP URL may hold a password.
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


async def _claim(db: Database, *, now: datetime, lease_end: datetime, limit: int) -> list[OutboxEmail]:
    due = (
        select(OutboxEmail.id)
        .where(
            OutboxEmail.status == EmailStatus.PENDING,
            OutboxEmail.next_attempt_at <= now,
            or_(OutboxEmail.locked_until.is_(None), OutboxEmail.locked_until <= now),
        )
        .order_by(OutboxEmail.next_attempt_at)
        .limit(limit)
        # PostgreSQL: concurrent workers skip each other's rows instead of claiming them twice.
        # SQLite renders no FOR UPDATE and needs none: the UPDATE holds its only write lock.
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(due))
        .values(locked_until=lease_end)
        .returning(OutboxEmail)
        .execution_options(synchronize_session=False)
    )
    async with db.begin() as session:
        return list((await session.scalars(claim)).all())


async def _hand_off(db: Database, email: OutboxEmail, *, claimed_until: datetime, lease: Lease) -> bool:
    """Marks the message as being handed to the SMTP server, renewing its lease for the send; False
    when the claim was lost (it ran out and another worker took the message over).

    A mark still there from an earlier hand-off means that one's outcome was never recorded.
    """
    now = utcnow()
    async with db.begin() as session:
        resends = await session.scalar(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id, OutboxEmail.locked_until == claimed_until)
            .values(
                resends=OutboxEmail.resends + case((OutboxEmail.sending_since.is_(None), 0), else_=1),
                sending_since=now,
                locked_until=now + lease.length,
            )
            .returning(OutboxEmail.resends)
        )
    if resends is None:
        return False
    if resends > email.resends:
        logger.warning(
            "email %s (%s) is sent again: an earlier hand-off to the SMTP server was never recorded "
            "(re-send %d; its Message-ID lets receivers drop the copy)",
            email.id,
            email.template,
            resends,
        )
    email.resends = resends
    return True


async def _record_sent(db: Database, email: OutboxEmail, *, until: float) -> None:
    """Records the message as sent. The server has accepted it, so while our lease holds (no one else
    sends it), a database that is away is waited for: recording it now saves a re-send later."""
    while True:
        try:
            async with db.begin() as session:
                await session.execute(
                    update(OutboxEmail)
                    .where(OutboxEmail.id == email.id)
                    .values(
                        status=EmailStatus.SENT,
                        sent_at=utcnow(),
                        attempts=email.attempts + 1,
                        locked_until=None,
                        sending_since=None,
                    )
                )
            return
        except DatabaseUnavailable:
            if time.monotonic() + RECORD_RETRY_SECONDS >= until:
                raise
            await asyncio.sleep(RECORD_RETRY_SECONDS)


async def _record_failure(db: Database, email: OutboxEmail, error: BaseException) -> None:
    attempts = email.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    async with db.begin() as session:
        await session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id)
            .values(
                status=EmailStatus.FAILED if gave_up else EmailStatus.PENDING,
                attempts=attempts,
                last_error=_describe(error),
                next_attempt_at=utcnow() + retry_delay(attempts),
                locked_until=None,
                sending_since=None,
            )
        )
    if gave_up:
        logger.error("email %s (%s) failed %d times; giving up", email.id, email.template, attempts)


async def _release(db: Database, emails: list[OutboxEmail]) -> None:
    """Hands unsent claims back at once rather than when their lease runs out."""
    if not emails:
        return
    async with db.begin() as session:
        await session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_([email.id for email in emails]))
            .values(locked_until=None)
        )


async def _deliver(
    db: Database,
    server: SmtpServer | None,
    email: OutboxEmail,
    *,
    sender: str,
    claimed_until: datetime,
    lease: Lease,
) -> bool:
    """Sends one claimed message and records the outcome; True when it went out."""
    if not await _hand_off(db, email, claimed_until=claimed_until, lease=lease):
        return False
    lease_ends = time.monotonic() + lease.length.total_seconds()
    try:
        await _send(server, email, sender=sender, within=lease.send_timeout)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        logger.warning("email %s (%s) not sent: %s", email.id, email.template, _describe(error))
        await _record_failure(db, email, error)
        return False
    except Exception as error:
        # Not a delivery problem but a bug or bad data: keep the traceback, go on with the rest.
        logger.exception("email %s (%s) could not be sent", email.id, email.template)
        await _record_failure(db, email, error)
        return False
    await _record_sent(db, email, until=lease_ends)
    return True


async def deliver_due(db: Database, settings: Settings, *, limit: int = 50) -> int:
    """Sends the messages that are due, each in its own transaction; returns how many were sent."""
    server = smtp_server(settings)
    lease = Lease.of(settings)
    now = utcnow()
    claimed_until = now + lease.length
    claimed = await _claim(db, now=now, lease_end=claimed_until, limit=limit)
    sent = 0
    for index, email in enumerate(claimed):
        delivery = asyncio.create_task(
            _deliver(db, server, email, sender=settings.sender, claimed_until=claimed_until, lease=lease)
        )
        try:
            if await asyncio.shield(delivery):
                sent += 1
        except asyncio.CancelledError:
            # Stopping: the message in flight finishes (within the send timeout) and is recorded, or
            # a message already handed to the server would be sent again once its lease ran out.
            await delivery
            await _release(db, claimed[index + 1 :])
            raise
    if claimed:
        logger.info("outbox: %d of %d due emails sent", sent, len(claimed))
    return sent


class Mailer:
    """Delivers the outbox every `mail_poll_seconds` while the app runs; an error never stops it."""

    def __init__(self, db: Database, settings: Settings) -> None:
        # A malformed SMTP URL stops the app at startup, not in a log line every few seconds.
        if smtp_server(settings) is None and settings.env == "production":
            logger.warning("no SMTP server configured: emails, with their links, go to the log")
        self._db = db
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="clientarea-mailer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() rather than awaiting the task: its CancelledError must not pass for our own.
        await asyncio.wait([task])

    async def _run(self) -> None:
        while True:
            try:
                # Reset requests whose own process stopped before answering them, then the outbox.
                await answer_stale_reset_requests(self._db, self._settings)
                await deliver_due(self._db, self._settings)
            except DatabaseUnavailable:
                pass  # logged once per outage by the database; the next round tries again
            except Exception:
                logger.exception("delivering the outbox failed; trying again")
            await asyncio.sleep(self._settings.mail_poll_seconds)
