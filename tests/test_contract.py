"""The exported SDL matches the code, and keeps the consumers' contract (less what is pending)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schema.schema import SDL_PATH, export_sdl

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT.parent / "shared" / "tools" / "check_contract.py"
PENDING = Path(__file__).with_name("contract_pending.txt")


def _breaches() -> set[str]:
    result = subprocess.run(
        [sys.executable, str(CHECKER), str(SDL_PATH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return {line for line in result.stdout.splitlines() if line and not line.startswith("contract:")}


def _pending() -> set[str]:
    lines = PENDING.read_text().splitlines()
    return {line for line in lines if line.strip() and not line.startswith("#")}


def test_committed_sdl_is_the_schema() -> None:
    assert SDL_PATH.read_text() == export_sdl(), (
        "schema/schema.graphql is stale: run `.venv/bin/python -m schema.schema`"
    )


def test_contract_is_kept_except_for_pending_items() -> None:
    unexpected = _breaches() - _pending()
    assert not unexpected, "contract breaches not in tests/contract_pending.txt:\n" + "\n".join(
        sorted(unexpected)
    )


def test_pending_list_only_shrinks() -> None:
    built = _pending() - _breaches()
    assert not built, "built already; remove from tests/contract_pending.txt:\n" + "\n".join(sorted(built))
