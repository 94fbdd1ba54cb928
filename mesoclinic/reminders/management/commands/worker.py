"""``mesoclinic worker``: send due reminders until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from argparse import ArgumentParser
from datetime import timedelta
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from mesoclinic.reminders.outbox import BATCH, LEASE, Worker

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Send the reminders that are due by email, retrying failures with backoff, until "
        "stopped (SIGTERM or Ctrl+C let the message being sent finish). Several may run at once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="send what is due now, then exit")
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=30.0,
            help="how long to wait between looks at the outbox (default 30)",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH,
            help=f"reminders claimed at a time (default {BATCH})",
        )
        parser.add_argument(
            "--lease-seconds",
            type=float,
            default=LEASE.total_seconds(),
            help="how long a claimed reminder stays this worker's before another may take it "
            f"over (default {LEASE.total_seconds():.0f})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["poll_seconds"] <= 0 or options["batch"] < 1 or options["lease_seconds"] < 1:
            raise CommandError(
                "--poll-seconds must be above 0, --batch at least 1 and --lease-seconds at least 1."
            )
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self._run(options, stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self, options: dict[str, Any], stop: threading.Event) -> None:
        worker = Worker(
            batch=options["batch"],
            lease=timedelta(seconds=options["lease_seconds"]),
            stopping=stop.is_set,
        )
        if options["verbosity"] >= 1:
            self.stdout.write(f"Worker {worker.name} sending reminders.")
        while True:
            try:
                outcomes = worker.run_pass()
            except DatabaseError:
                if options["once"]:
                    raise
                # The database restarting must not end the worker: look again later.
                logger.exception("The outbox could not be read; trying again shortly.")
            else:
                if outcomes and options["verbosity"] >= 1:
                    done = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
                    self.stdout.write(f"Reminders: {done}.")
            if options["once"] or stop.wait(options["poll_seconds"]):
                break
            # Between passes, as Django does between requests: a connection the database
            # dropped or that outlived its age is replaced.
            close_old_connections()
