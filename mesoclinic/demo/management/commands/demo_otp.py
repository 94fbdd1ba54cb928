from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mesoclinic.demo.otp import NoDemoDevice, current_code, demo_device


class Command(BaseCommand):
    help = "Print the current 6-digit two-factor code of a demo login, e.g. dr.moreau."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="a demo login, as `mesoclinic demo` lists them")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            device = demo_device(options["username"])
        except NoDemoDevice as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(current_code(device))
