"""The outbox mailer against a real SMTP server (aiosmtpd): sent once, retried with back-off, given up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from clientarea import mailer
from clientarea.app import create_app
from clientarea.cli import main
from clientarea.mailer import MAX_ATTEMPTS, Mailer, SmtpServer, deliver_due
from models.base import utcnow
from models.database import Database
from models.outbox import EmailStatus, OutboxEmail
from resolvers.core.outbox import enqueue
from resolvers.core.settings import Settings, get_settings
from tests.servers import Inbox, SlowInbox, free_port, smtp_server

RESET = {"name": "Erika", "link": "https://clientarea.example/reset#t0ken", "expires": "12:00"}


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def smtp_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{port}", "mail_from": "hi@host.example"}
    )


@pytest.fixture
async def running_smtp(inbox: Inbox, port: int) -> AsyncIterator[Inbox]:
    async with smtp_server(inbox, port):
        yield inbox


async def _queue(db: Database, *, to: str = "erika@example.com", language: str = "en") -> OutboxEmail:
    async with db.begin() as session:
        return enqueue(session, to=to, template="password_reset", language=language, params=RESET)


async def _row(db: Database, email: OutboxEmail) -> OutboxEmail:
    async with db.read() as session:
        return (await session.scalars(select(OutboxEmail).where(OutboxEmail.id == email.id))).one()


async def _wait_until_sent(db: Database, email: OutboxEmail) -> None:
    # Polling: the background task records the outcome in its own transaction and tells no one.
    for _ in range(1000):
        if (await _row(db, email)).status is EmailStatus.SENT:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the mailer did not send the email within 10 s")


async def _make_due(db: Database, email: OutboxEmail) -> None:
    """Stands in for waiting out the back-off."""
    async with db.begin() as session:
        await session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_a_queued_email_is_sent_once_with_text_and_html(
    db: Database, smtp_settings: Settings, running_smtp: Inbox
) -> None:
    # given
    queued = await _queue(db, to="erika@example.com", language="de")

    # when
    sent = await deliver_due(db, smtp_settings)

    # then
    assert sent == 1
    [envelope] = running_smtp.envelopes
    assert envelope.mail_from == "hi@host.example"
    assert envelope.rcpt_tos == ["erika@example.com"]
    [message] = running_smtp.messages
    assert message["From"] == "hi@host.example"
    assert message["To"] == "erika@example.com"
    assert message["Subject"] == "Passwort zurücksetzen"
    assert message["Message-ID"] == f"<{queued.id}@host.example>"
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert RESET["link"] in text.get_content()
    assert 'href="https://clientarea.example/reset#t0ken"' in html.get_content()
    row = await _row(db, queued)
    assert row.status is EmailStatus.SENT
    assert row.sent_at is not None
    assert row.locked_until is None


async def test_an_email_rolled_back_with_its_transaction_is_never_sent(
    db: Database, smtp_settings: Settings, running_smtp: Inbox
) -> None:
    # given
    async def change_that_fails() -> None:
        async with db.begin() as session:
            enqueue(session, to="erika@example.com", template="password_reset", language="en", params=RESET)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        await change_that_fails()

    # when
    sent = await deliver_due(db, smtp_settings)

    # then
    assert sent == 0
    assert running_smtp.envelopes == []
    async with db.read() as session:
        assert (await session.scalars(select(OutboxEmail))).all() == []


async def test_delivering_twice_sends_nothing_twice(
    db: Database, smtp_settings: Settings, running_smtp: Inbox
) -> None:
    # given
    await _queue(db, to="a@example.com")
    await _queue(db, to="b@example.com")

    # when
    first = await deliver_due(db, smtp_settings)
    second = await deliver_due(db, smtp_settings)

    # then
    assert (first, second) == (2, 0)
    assert sorted(e.rcpt_tos[0] for e in running_smtp.envelopes) == ["a@example.com", "b@example.com"]


async def test_two_workers_at_once_send_each_email_once(
    db: Database, smtp_settings: Settings, running_smtp: Inbox
) -> None:
    # given
    for n in range(10):
        await _queue(db, to=f"user{n}@example.com")
    other_worker = Database(smtp_settings.database_url)

    # when
    try:
        sent = await asyncio.gather(
            deliver_due(db, smtp_settings, limit=6), deliver_due(other_worker, smtp_settings, limit=6)
        )
    finally:
        await other_worker.dispose()

    # then
    assert sum(sent) == 10
    recipients = [e.rcpt_tos[0] for e in running_smtp.envelopes]
    assert sorted(recipients) == sorted(f"user{n}@example.com" for n in range(10))


@pytest.mark.usefixtures("postgres_only")
async def test_an_email_another_worker_is_claiming_is_skipped_not_waited_for(
    db: Database, smtp_settings: Settings, running_smtp: Inbox
) -> None:
    # given: another worker holds the row lock of one email while it claims it
    claimed_elsewhere = await _queue(db, to="locked@example.com")
    await _queue(db, to="free@example.com")
    async with db.begin() as other_worker:
        await other_worker.execute(
            select(OutboxEmail.id).where(OutboxEmail.id == claimed_elsewhere.id).with_for_update()
        )

        # when
        async with asyncio.timeout(5):
            sent = await deliver_due(db, smtp_settings)

    # then
    assert sent == 1
    assert [e.rcpt_tos for e in running_smtp.envelopes] == [["free@example.com"]]


async def test_an_unreachable_server_means_a_retry_later_then_delivery(
    db: Database, smtp_settings: Settings, inbox: Inbox, port: int
) -> None:
    # given: nothing listens on the port yet
    queued = await _queue(db)
    before = utcnow()

    # when
    sent = await deliver_due(db, smtp_settings)

    # then: still pending, one attempt recorded, not retried before the back-off ends
    assert sent == 0
    row = await _row(db, queued)
    assert row.status is EmailStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at >= before + timedelta(seconds=30)
    assert row.locked_until is None
    assert row.last_error
    assert await deliver_due(db, smtp_settings) == 0
    assert (await _row(db, queued)).attempts == 1

    # when: the server is up and the back-off has passed
    async with smtp_server(inbox, port):
        await _make_due(db, queued)
        sent = await deliver_due(db, smtp_settings)

    # then
    assert sent == 1
    assert len(inbox.envelopes) == 1
    row = await _row(db, queued)
    assert row.status is EmailStatus.SENT
    assert row.attempts == 2


async def test_an_email_is_given_up_after_the_maximum_attempts(db: Database, smtp_settings: Settings) -> None:
    # given: one failure short of the limit, and no server
    queued = await _queue(db)
    async with db.begin() as session:
        await session.execute(
            update(OutboxEmail).where(OutboxEmail.id == queued.id).values(attempts=MAX_ATTEMPTS - 1)
        )

    # when
    sent = await deliver_due(db, smtp_settings)

    # then
    assert sent == 0
    row = await _row(db, queued)
    assert row.status is EmailStatus.FAILED
    assert row.attempts == MAX_ATTEMPTS
    await _make_due(db, queued)
    assert await deliver_due(db, smtp_settings) == 0


async def test_a_hand_off_never_recorded_is_sent_again_counted_and_logged(
    db: Database, smtp_settings: Settings, running_smtp: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    # given a worker handed the email to the SMTP server and died before recording the outcome:
    # the row is still marked, and its claim has run out
    queued = await _queue(db)
    async with db.begin() as session:
        await session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == queued.id)
            .values(
                sending_since=utcnow() - timedelta(seconds=40), locked_until=utcnow() - timedelta(seconds=1)
            )
        )

    # when
    with caplog.at_level(logging.WARNING, logger="clientarea.mail"):
        sent = await deliver_due(db, smtp_settings)

    # then it goes out again, with the row's stable Message-ID, counted as a re-send
    assert sent == 1
    [message] = running_smtp.messages
    assert message["Message-ID"] == f"<{queued.id}@host.example>"
    row = await _row(db, queued)
    assert (row.status, row.resends, row.attempts) == (EmailStatus.SENT, 1, 1)
    assert row.sending_since is None
    [warning] = [r for r in caplog.records if r.name == "clientarea.mail"]
    assert "sent again" in warning.getMessage()


async def test_a_message_being_sent_is_held_for_the_configured_lease_only(
    db: Database, smtp_settings: Settings, port: int
) -> None:
    # given the SMTP server holds its answer while the test looks at the row
    slow = SlowInbox()
    settings = smtp_settings.model_copy(update={"mail_lease_seconds": 12})
    async with smtp_server(slow, port):
        queued = await _queue(db)
        delivery = asyncio.create_task(deliver_due(db, settings))
        try:
            assert await asyncio.to_thread(slow.arrived.wait, 10)
            in_flight = await _row(db, queued)
        finally:
            slow.proceed.set()
            sent = await delivery

    # then the hand-off was marked and held for the lease, seconds rather than minutes,
    assert in_flight.sending_since is not None
    assert in_flight.locked_until is not None
    assert in_flight.locked_until - in_flight.sending_since == timedelta(seconds=12)
    # and an ordinary send is recorded with no re-send counted.
    assert sent == 1
    row = await _row(db, queued)
    assert (row.status, row.attempts, row.resends) == (EmailStatus.SENT, 1, 0)
    assert row.sending_since is None


async def test_without_smtp_the_email_is_logged_and_marked_sent(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    assert settings.smtp_url is None
    queued = await _queue(db, to="erika@example.com")

    # when
    with caplog.at_level(logging.INFO, logger="clientarea.mail"):
        sent = await deliver_due(db, settings)

    # then
    assert sent == 1
    [record] = [r for r in caplog.records if "erika@example.com" in r.getMessage()]
    assert record.name == "clientarea.mail"
    assert "Reset your password" in record.getMessage()
    assert RESET["link"] in record.getMessage()
    assert (await _row(db, queued)).status is EmailStatus.SENT


async def test_the_app_delivers_the_outbox_by_itself(
    db: Database, smtp_settings: Settings, running_smtp: Inbox
) -> None:
    # given
    app = create_app(smtp_settings.model_copy(update={"mail_enabled": True, "mail_poll_seconds": 0.01}), db)

    async with app.router.lifespan_context(app):
        # when
        queued = await _queue(db)

        # then
        await _wait_until_sent(db, queued)
    assert len(running_smtp.envelopes) == 1


async def test_stopping_lets_the_email_in_flight_finish_and_be_recorded(
    db: Database, smtp_settings: Settings, port: int
) -> None:
    # given: the server holds its answer to the message until told to go on
    slow = SlowInbox()
    async with smtp_server(slow, port):
        queued = await _queue(db)
        worker = Mailer(db, smtp_settings.model_copy(update={"mail_poll_seconds": 0.01}))
        worker.start()
        assert await asyncio.to_thread(slow.arrived.wait, 10)

        # when
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0.05)
        waited = not stopping.done()
        slow.proceed.set()
        await stopping

    # then
    assert waited
    assert len(slow.envelopes) == 1
    assert (await _row(db, queued)).status is EmailStatus.SENT


async def test_the_mailer_keeps_going_after_an_error(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given: the first round fails
    calls = 0
    second_round = asyncio.Event()

    async def flaky(_db: Database, _settings: Settings, *, limit: int = 50) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        second_round.set()
        return 0

    monkeypatch.setattr(mailer, "deliver_due", flaky)
    worker = Mailer(db, settings.model_copy(update={"mail_poll_seconds": 0.01}))

    # when
    worker.start()
    try:
        async with asyncio.timeout(10):
            await second_round.wait()
    finally:
        await worker.stop()

    # then
    [record] = [r for r in caplog.records if r.name == "clientarea.mail"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, smtp_settings: Settings) -> Iterator[None]:
    monkeypatch.setenv("CLIENTAREA_ENV", "test")
    monkeypatch.setenv("CLIENTAREA_DATABASE_URL", smtp_settings.database_url)
    monkeypatch.setenv("CLIENTAREA_SMTP_URL", str(smtp_settings.smtp_url))
    # The command sets up JSON logging on the root logger; pytest's log capture must keep it.
    monkeypatch.setattr("clientarea.cli.configure_logging", lambda: None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("environment")
async def test_the_mail_deliver_command_sends_what_is_due(
    db: Database, running_smtp: Inbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    await _queue(db)

    # when: in a thread, because the command runs its own event loop
    status = await asyncio.to_thread(main, ["mail", "deliver"])

    # then
    assert status == 0
    assert capsys.readouterr().out == "sent 1 email(s)\n"
    assert len(running_smtp.envelopes) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", SmtpServer(hostname="mail.example", port=25)),
        (
            "smtp://mail.example?starttls=true",
            SmtpServer(hostname="mail.example", port=587, start_tls=True),
        ),
        ("smtp://mail.example:2525?starttls=false", SmtpServer("mail.example", 2525, start_tls=False)),
        (
            "smtps://user%40example.com:p%3Ass@mail.example",
            SmtpServer("mail.example", 465, "user@example.com", "p:ss", use_tls=True),
        ),
    ],
)
def test_the_smtp_url_is_read(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret@mail.example",
        "smtp://user:s3cret@",
        "smtps://user:s3cret@mail.example?starttls=true",
        "smtp://user:s3cret@mail.example?starttls=maybe",
        "smtp://user:s3cret@mail.example:port",
    ],
)
def test_a_bad_smtp_url_is_refused_without_quoting_the_password(url: str) -> None:
    with pytest.raises(ValueError, match=r"CLIENTAREA_SMTP_URL|smtps://") as refused:
        SmtpServer.from_url(url)
    assert "s3cret" not in str(refused.value)


def test_the_password_is_not_in_the_repr() -> None:
    assert "s3cret" not in repr(SmtpServer.from_url("smtp://user:s3cret@mail.example"))
