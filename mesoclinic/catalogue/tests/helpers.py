"""Helpers for the catalogue's tests: snapshots of the tables and edits of data files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.apps import apps


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every catalogue table, the many-to-many tables included."""
    config = apps.get_app_config("catalogue")
    return {
        model._meta.db_table: list(model._default_manager.order_by("pk").values())
        for model in config.get_models(include_auto_created=True)
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new))


def remove_entry(path: Path, code: str) -> None:
    """Drop the [[...]] entry with this code from a data file."""
    blocks = re.split(r"\n(?=\[\[)", path.read_text())
    kept = [block for block in blocks if f'\ncode = "{code}"\n' not in block]
    assert len(kept) == len(blocks) - 1, f"no entry {code!r} in {path.name}"
    path.write_text("\n".join(kept))
