"""The `clientarea` command: serve the API, manage the database, deliver the email outbox."""

from __future__ import annotations

import argparse
import sys

from clientarea.logs import configure_logging
from clientarea.settings import get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
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
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
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

    configure_logging()
    settings = get_settings()

    async def deliver() -> int:
        db = Database(settings.database_url)
        try:
            return await deliver_due(db, settings, limit=args.limit)
        finally:
            await db.dispose()

    print(f"sent {asyncio.run(deliver())} email(s)")
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
