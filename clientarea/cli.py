"""The `clientarea` command: serve the API, manage the database, deliver the email outbox."""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from resolvers.core.ids import encode_id
from resolvers.core.logs import configure_logging, logging_config
from resolvers.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from models.database import Database


def _metrics_directory() -> Callable[[], None]:
    """Multi-process metrics: every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
    (an operator's, emptied of the last run's files, or else a new temporary folder), and /metrics
    adds them up. It must be set before prometheus_client is first imported, so before anything else
    here. Returns what to do at exit."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return lambda: None
    made = tempfile.mkdtemp(prefix="clientarea-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return lambda: shutil.rmtree(made, ignore_errors=True)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    clean_up = _metrics_directory() if settings.metrics_token else (lambda: None)
    try:
        if not args.no_migrate:
            from clientarea.migrate import upgrade

            upgrade(settings.database_url)
        configure_logging()
        uvicorn.run(
            "clientarea.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            # Applied again in each worker process, which starts with logging unconfigured.
            log_config=logging_config(),
            access_log=False,
            proxy_headers=True,
            server_header=False,
        )
    finally:
        clean_up()
    return 0


def _db_upgrade(_args: argparse.Namespace) -> int:
    from clientarea.migrate import upgrade

    configure_logging()
    upgrade(get_settings().database_url)
    return 0


def _db_revision(args: argparse.Namespace) -> int:
    from alembic import command

    from clientarea.migrate import alembic_config

    command.revision(alembic_config(get_settings().database_url), message=args.message, autogenerate=True)
    return 0


def _mail_deliver(args: argparse.Namespace) -> int:
    import asyncio

    from clientarea.mailer import deliver_due
    from models.database import Database
    from resolvers.password_resets.requests import answer_stale_reset_requests

    configure_logging()
    settings = get_settings()

    async def deliver() -> int:
        db = Database(settings.database_url)
        try:
            await answer_stale_reset_requests(db, settings)
            return await deliver_due(db, settings, limit=args.limit)
        finally:
            await db.dispose()

    print(f"sent {asyncio.run(deliver())} email(s)")
    return 0


def _documents_load(args: argparse.Namespace) -> int:
    """Trusts the documents of a manifest (clientarea/persisted.py); a bad manifest stores nothing."""
    import asyncio
    from pathlib import Path

    import orjson

    from clientarea.persisted import ManifestError, check_documents, documents_from_manifest, load_trusted
    from models.database import Database
    from schema.schema import schema

    configure_logging()
    settings = get_settings()
    try:
        documents = documents_from_manifest(orjson.loads(Path(args.file).read_bytes()))
        check_documents(schema._schema, documents)
    except (OSError, orjson.JSONDecodeError, ManifestError) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 1

    async def load() -> int:
        db = Database(settings.database_url)
        try:
            return await load_trusted(db, documents, replace=args.replace)
        finally:
            await db.dispose()

    trusted = asyncio.run(load())
    print(f"loaded {len(documents)} document(s); {trusted} trusted in all")
    return 0


def _two_factor_rotate_keys(_args: argparse.Namespace) -> int:
    from resolvers.two_factor.two_factor import reencrypt_secrets

    async def work(db: Database, settings: Settings) -> str:
        return f"re-encrypted {await reencrypt_secrets(db, settings)} two-factor secret(s) with the first key"

    return _run_staff_command(work)


def _run_staff_command(work: Callable[[Database, Settings], Awaitable[str]]) -> int:
    """Runs one audited staff command; an unknown number or ID, or a wrong state, exits 1."""
    import asyncio

    from models.database import Database
    from resolvers.core.errors import Rejected

    configure_logging()
    settings = get_settings()

    async def run() -> str:
        db = Database(settings.database_url)
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    try:
        print(asyncio.run(run()))
    except Rejected as rejected:
        for problem in rejected.problems:
            print(f"error: {problem.message}", file=sys.stderr)
        return 1
    return 0


def _tickets_reply(args: argparse.Namespace) -> int:
    from resolvers.tickets import reply_as_staff

    async def reply(db: Database, settings: Settings) -> str:
        done = await reply_as_staff(
            db, settings, number=args.number, message=args.message, staff_name=args.staff_name
        )
        return f"{done.ticket.number} is {done.ticket.status.value}; emailed {len(done.recipients)} member(s)"

    return _run_staff_command(reply)


def _invoices(args: argparse.Namespace) -> int:
    from resolvers.billing.payments import mark_invoice_paid, refund_invoice

    change = mark_invoice_paid if args.invoices_command == "mark-paid" else refund_invoice

    async def run(db: Database, settings: Settings) -> str:
        invoice = await change(db, settings, number=args.number)
        return f"invoice {invoice.number} is {invoice.status.value}"

    return _run_staff_command(run)


def _orders(args: argparse.Namespace) -> int:
    from models.billing import InvoiceStatus
    from resolvers.staff import operations

    async def work(db: Database, settings: Settings) -> str:
        if args.orders_command == "accept":
            done = await operations.accept_order(db, settings, number=args.number)
            return (
                f"order {done.order.number} is {done.order.status.value}: "
                f"{len(done.services)} service(s) and {len(done.domains)} domain(s) activated"
            )
        end = operations.cancel_order if args.orders_command == "cancel" else operations.mark_order_fraud
        done = await end(db, settings, number=args.number)
        line = (
            f"order {done.order.number} is {done.order.status.value}: "
            f"{len(done.services)} service(s) and {len(done.domains)} domain(s) cancelled"
        )
        if done.invoice is not None:
            line += f"; invoice {done.invoice.number} is {done.invoice.status.value}"
            if done.invoice.status is InvoiceStatus.PAID:
                line += f" (refund it with: clientarea invoices refund {done.invoice.number})"
        return line

    return _run_staff_command(work)


def _global_id(type_name: str) -> Callable[[str], uuid.UUID]:
    """An argument type: the key of a global ID of `type_name`, as the API shows it."""

    def key(given: str) -> uuid.UUID:
        from resolvers.core.errors import BadUserInput
        from schema.core.ids import decode_id

        try:
            decoded = decode_id(given.strip(), type_name)
        except BadUserInput:
            decoded = None
        if decoded is None:
            raise argparse.ArgumentTypeError(f"{given.strip()[:100]!r} is not a {type_name} ID.")
        return decoded

    return key


def _services(args: argparse.Namespace) -> int:
    from resolvers.staff import operations

    change = {
        "suspend": operations.suspend_service,
        "unsuspend": operations.unsuspend_service,
        "terminate": operations.terminate_service,
    }[args.services_command]

    async def work(db: Database, settings: Settings) -> str:
        service = await change(db, settings, service_id=args.service_id)
        return f"service {encode_id('Service', service.id)} is {service.status.value}"

    return _run_staff_command(work)


def _accounts_close(args: argparse.Namespace) -> int:
    from resolvers.staff.operations import close_account

    async def work(db: Database, settings: Settings) -> str:
        account = await close_account(db, settings, account_id=args.account_id)
        return f"account {encode_id('ClientAccount', account.id)} ({account.name}) is {account.status.value}"

    return _run_staff_command(work)


def _jobs_run(_args: argparse.Namespace) -> int:
    from resolvers.staff.jobs import run_jobs

    async def work(db: Database, settings: Settings) -> str:
        return (await run_jobs(db, settings)).line()

    return _run_staff_command(work)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clientarea", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    serve.set_defaults(run=_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(run=_db_upgrade)
    revision = db_commands.add_parser(
        "revision", help="write a migration for what the models changed (database at head)"
    )
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(run=_db_revision)

    mail = commands.add_parser("mail", help="the email outbox")
    mail_commands = mail.add_subparsers(dest="mail_command", required=True)
    deliver = mail_commands.add_parser("deliver", help="send the emails that are due, once")
    deliver.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    deliver.set_defaults(run=_mail_deliver)

    two_factor = commands.add_parser("two-factor", help="two-factor sign-in")
    two_factor_commands = two_factor.add_subparsers(dest="two_factor_command", required=True)
    two_factor_commands.add_parser(
        "rotate-keys",
        help="re-encrypt every two-factor secret with the first of CLIENTAREA_TWO_FACTOR_KEYS",
    ).set_defaults(run=_two_factor_rotate_keys)

    tickets = commands.add_parser("tickets", help="support tickets")
    tickets_commands = tickets.add_subparsers(dest="tickets_command", required=True)
    reply = tickets_commands.add_parser(
        "reply", help="answer a ticket as staff (ANSWERED); emails the account's ticket handlers"
    )
    reply.add_argument("number", help="the ticket number, e.g. T-000042")
    reply.add_argument("--message", required=True, help="the answer; line breaks are kept")
    reply.add_argument("--staff-name", default="Support", help='signed as (default "Support")')
    reply.set_defaults(run=_tickets_reply)

    invoices = commands.add_parser("invoices", help="invoices paid or refunded at the payment provider")
    invoices_commands = invoices.add_subparsers(dest="invoices_command", required=True)
    for name, help_text in (
        ("mark-paid", "an UNPAID invoice was paid; a referring affiliate earns its commission"),
        ("refund", "a PAID invoice was refunded; its commission, while still held, is void"),
    ):
        command = invoices_commands.add_parser(name, help=help_text)
        command.add_argument("number", help="the invoice number, e.g. 2025-000042")
        command.set_defaults(run=_invoices)

    orders = commands.add_parser("orders", help="accept or refuse placed orders")
    orders_commands = orders.add_subparsers(dest="orders_command", required=True)
    for name, help_text in (
        ("accept", "a PENDING order becomes ACTIVE, with its services and domains"),
        ("cancel", "a PENDING order is CANCELLED, with its services, domains and unpaid invoice"),
        ("mark-fraud", "like cancel, recorded as FRAUD"),
    ):
        command = orders_commands.add_parser(name, help=help_text)
        command.add_argument("number", help="the order number, e.g. 100042")
        command.set_defaults(run=_orders)

    services = commands.add_parser("services", help="suspend, unsuspend or terminate a service")
    services_commands = services.add_subparsers(dest="services_command", required=True)
    for name, help_text in (
        ("suspend", "an ACTIVE service becomes SUSPENDED"),
        ("unsuspend", "a SUSPENDED service becomes ACTIVE again"),
        ("terminate", "an ACTIVE or SUSPENDED service ends for good (TERMINATED)"),
    ):
        command = services_commands.add_parser(name, help=help_text)
        command.add_argument(
            "service_id", type=_global_id("Service"), help="the service's global ID, as the API shows it"
        )
        command.set_defaults(run=_services)

    accounts = commands.add_parser("accounts", help="client accounts")
    accounts_commands = accounts.add_subparsers(dest="accounts_command", required=True)
    close = accounts_commands.add_parser("close", help="an ACTIVE account becomes CLOSED and cannot order")
    close.add_argument(
        "account_id", type=_global_id("ClientAccount"), help="the account's global ID, as the API shows it"
    )
    close.set_defaults(run=_accounts_close)

    documents = commands.add_parser("documents", help="persisted GraphQL documents")
    documents_commands = documents.add_subparsers(dest="documents_command", required=True)
    load = documents_commands.add_parser(
        "load", help="trust the documents of a manifest (hash → document JSON, or Apollo's manifest)"
    )
    load.add_argument("file", help="the manifest, a JSON file")
    load.add_argument(
        "--replace", action="store_true", help="withdraw trust from every document not in this manifest"
    )
    load.set_defaults(run=_documents_load)

    jobs = commands.add_parser("jobs", help="the periodic work")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_commands.add_parser(
        "run",
        help="expire lapsed domains, carry out due cancellations, clear held commissions, purge old rows",
    ).set_defaults(run=_jobs_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
