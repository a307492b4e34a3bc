"""The scripts the README tells a newcomer to run."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_scripts_clientarea_runs_the_cli_from_any_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "clientarea"), "db", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "apply pending migrations" in result.stdout
