from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mesoclinic.demo.formulas import MissingCatalogue
from mesoclinic.demo.generator import (
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    DEMO_CLINIC_SLUG,
    build_demo,
    demo_exists,
    demo_today,
)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ArgumentTypeError(f"{value!r} is not a date such as 2026-03-14") from exc


class Command(BaseCommand):
    help = (
        "Build the demo clinics with their staff, patients, formula library, rooms, working hours, "
        "courses and the signed treatment charts of their past sessions, and the Paris clinic's "
        "synthetic history of past courses for the evidence pages (the catalogue must be "
        "loaded). Once only: when the demo clinic exists it says so and changes nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"the same seed and day give the same records (default {DEFAULT_SEED})",
        )
        parser.add_argument(
            "--patients",
            type=int,
            default=DEFAULT_PATIENTS,
            help=f"how many patients (default {DEFAULT_PATIENTS}), besides the former patients "
            "of the synthetic history (with any patients at all)",
        )
        parser.add_argument(
            "--today",
            type=_day,
            help="the day ages and medication dates count from, YYYY-MM-DD "
            "(default: today in the clinic's time zone)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["patients"] < 0:
            raise CommandError("--patients must be 0 or more.")
        # The check and the build share one transaction, so a failure half-way leaves no
        # partial clinic for the next run to mistake for a finished one.
        with transaction.atomic():
            if demo_exists():
                message = (
                    f"The demo data is already present (clinic {DEMO_CLINIC_SLUG!r}); "
                    "nothing changed."
                )
            else:
                today = options["today"] or demo_today()
                try:
                    message = str(build_demo(options["seed"], options["patients"], today))
                except MissingCatalogue as exc:
                    raise CommandError(str(exc)) from exc
        if options["verbosity"] >= 1:
            self.stdout.write(message)
