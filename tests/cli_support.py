"""Running the ``mesoclinic`` command in its own process, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def environment(data_dir: Path, **env: str | None) -> dict[str, str]:
    """The suite's environment (production settings) with SQLite in ``data_dir`` unless
    DATABASE_URL is given, and ``env`` on top (None unsets)."""
    # The PostgreSQL run's database belongs to the suite, and the browser tests allow async
    # unsafe calls in their own process: neither is the user's environment.
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    inherited["MESOCLINIC_DATA_DIR"] = str(data_dir)
    for key, value in env.items():
        if value is None:
            inherited.pop(key, None)
        else:
            inherited[key] = value
    return inherited


def mesoclinic(*args: str, data_dir: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mesoclinic ARGS`` in the ``environment``."""
    return subprocess.run(
        [sys.executable, "-m", "mesoclinic", *args],
        env=environment(data_dir, **env),
        cwd=next(parent for parent in data_dir.parents if parent.is_dir()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_fails_with(result: subprocess.CompletedProcess[str], sentence: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mesoclinic: ")
    assert sentence in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
