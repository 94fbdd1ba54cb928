"""The courses fixtures (a bookable practitioner, a room, a patient, a course plan in clinic A),
helpers to book sessions at a given local time, and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.tests.conftest import *  # noqa: F403
from mesoclinic.reminders.tests.smtp import Inbox, free_port


def weekday_ahead(clinic: Clinic, days: int, weekday: int = 0) -> date:
    """The first ``weekday`` (0 = Monday) at least ``days`` days after the clinic's today."""
    day = clinic.today() + timedelta(days=days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def local(clinic: Clinic, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clinic.tz)


def weekday_soon(clinic: Clinic) -> date:
    """A working day two to six days ahead: its pre-care time (a week before) has passed, its
    day-before time has not."""
    today = clinic.today()
    return next(
        day for day in (today + timedelta(days=n) for n in range(2, 7)) if day.weekday() < 5
    )


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Argon2 is slow by design; these tests create several people each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1, and Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()
