"""Profiles the four dashboard and partner reads in-process with pyinstrument.

`.venv/bin/python -m benchmarks.profile_reads [--accounts 50] [--operation PartnerServices]` prints
the call tree of many rounds of each operation (after a warm-up), so per-node overhead shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

import httpx
from pyinstrument import Profiler

from benchmarks.read_paths import operations, populate
from clientarea.app import create_app
from clientarea.migrate import upgrade
from models.database import Database
from resolvers.core.settings import Settings


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--operation", action="append", help="default: all four")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--tree", dest="flat", action="store_false", help="the call tree, not a flat list")
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="clientarea-profile-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/profile.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, cookie_secure=False, mail_enabled=False)
    db = Database(url)
    world = await populate(db, settings, args.accounts, 2)
    bodies = operations(world)
    app = create_app(settings, db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client:
        client.cookies.set(settings.cookie_name, world.cookie)
        for name in args.operation or list(bodies):
            for _ in range(5):
                await client.post("/graphql", json=bodies[name])
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            for _ in range(args.rounds):
                await client.post("/graphql", json=bodies[name])
            profiler.stop()
            print(f"===== {name}")
            print(
                profiler.output_text(
                    unicode=False, color=False, show_all=False, time="percent_of_total", flat=args.flat
                )
            )
    await db.dispose()


if __name__ == "__main__":
    os.environ.setdefault("CLIENTAREA_ENV", "development")
    asyncio.run(main(sys.argv[1:]))
