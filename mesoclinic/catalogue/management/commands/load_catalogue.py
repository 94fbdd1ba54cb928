from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mesoclinic.catalogue.loader import CatalogueError, load_catalogue


class Command(BaseCommand):
    help = (
        "Load or update the reference catalogue from its data files. Safe to run again: "
        "only changed entries are written, and entries dropped from a file are retired."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data-dir",
            type=Path,
            help="directory holding the catalogue's .toml files (default: those shipped with mesoclinic)",
        )

    def handle(self, *args: Any, data_dir: Path | None, **options: Any) -> None:
        try:
            report = load_catalogue(data_dir)
        except CatalogueError as exc:
            raise CommandError(f"The catalogue was not changed: {exc}") from exc
        if options["verbosity"] >= 1:
            self.stdout.write(report.summary())
