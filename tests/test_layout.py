"""The shape of the code: modules a reader can take in whole."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def test_no_module_outside_tests_and_migrations_passes_400_lines() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): lines
        for package in ("clientarea", "models", "resolvers", "schema")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by responsibility: {long}"
