"""The migration to hashed rate-limit keys keeps the hits already counted: a lock in force stays."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from alembic import command

from clientarea.migrate import alembic_config, upgrade


def test_counted_hits_keep_counting_under_their_digest(tmp_path: Path) -> None:
    path = tmp_path / "before.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0005")
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO rate_limit_hits (key, occurred_at) VALUES (?, '2026-12-06 01:00:00.000000')",
            [("sign-in:erika@example.com",), ("sign-in:erika@example.com",), ("sign-up:203.0.113.7",)],
        )
    connection.close()

    upgrade(url)

    with sqlite3.connect(path) as connection:
        digests = [row[0] for row in connection.execute("SELECT key_hash FROM rate_limit_hits ORDER BY id")]
    connection.close()
    assert digests == [
        hashlib.sha256(b"sign-in:erika@example.com").digest(),
        hashlib.sha256(b"sign-in:erika@example.com").digest(),
        hashlib.sha256(b"sign-up:203.0.113.7").digest(),
    ]


def test_the_migration_goes_back_down(tmp_path: Path) -> None:
    path = tmp_path / "down.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)

    command.downgrade(alembic_config(url), "0005")

    with sqlite3.connect(path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(rate_limit_hits)")]
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    connection.close()
    assert "key" in columns
    assert "key_hash" not in columns
    assert "password_reset_requests" not in tables
