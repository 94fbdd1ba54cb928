"""``mesoclinic scan_outbreaks``: scan every clinic (or one) for infection clusters."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mesoclinic.clinics.models import Clinic
from mesoclinic.evidence.outbreaks import scan


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ArgumentTypeError(f"{value!r} is not a date such as 2026-03-14") from exc


class Command(BaseCommand):
    help = (
        "Look for infections clustered on a lot, a multi-dose vial, an injector gun or a clinic "
        "day, raise an outbreak alert for each and update the open ones. Safe to run as often "
        "as wished (a daily timer, say): a scan that finds nothing new changes nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--clinic", help="the clinic's slug (default: every clinic)")
        parser.add_argument(
            "--as-of",
            type=_day,
            help="scan as on this day, YYYY-MM-DD (default: today in each clinic's time zone)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clinics = Clinic.objects.order_by("slug")
        if options["clinic"]:
            clinics = clinics.filter(slug=options["clinic"])
            if not clinics.exists():
                raise CommandError(f"No clinic {options['clinic']!r}.")
        for clinic in clinics:
            alerts = scan(clinic, as_of=options["as_of"])
            if options["verbosity"] >= 1:
                self.stdout.write(f"{clinic.name}: {len(alerts)} open outbreak alerts")
                for alert in alerts:
                    self.stdout.write(
                        f"  {alert.pk}: {alert.label}: {alert.infections} of "
                        f"{alert.exposed_patients} exposed patients infected, "
                        f"{alert.expected:.2f} expected, p {alert.p_value:.1e}"
                    )
