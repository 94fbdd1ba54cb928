"""The courses fixtures (pat bookable in clinic A, a room, Camille Rousseau and her course
plan), bob bookable in clinic B with a patient of his, and helpers to book at local times and
read the calendars back with the icalendar library."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from icalendar import Calendar, Event

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.testing import make_bookable
from mesoclinic.courses.tests.conftest import bookable_pat, patient, plan, room
from mesoclinic.patients.tests.conftest import patient_b

__all__ = ["bookable_pat", "patient", "patient_b", "plan", "room"]

PARIS = ZoneInfo("Europe/Paris")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour`` o'clock on ``day`` in Paris, clinic A's zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def next_monday() -> date:
    today = timezone.localdate(timezone=PARIS)
    return today + timedelta(days=7 - today.weekday())


def events(data: bytes) -> list[Event]:
    return Calendar.from_ical(data).events


def event_for(data: bytes, uid: str) -> Event:
    (event,) = (event for event in events(data) if event["UID"] == uid)
    return event


@pytest.fixture
def bookable_bob(bob: User) -> User:
    return make_bookable(bob, bob)


@pytest.fixture
def bookable_pia(clinic_a: Clinic, alice: User) -> User:
    """A second practitioner of clinic A."""
    return make_bookable(create_user("pia.practitioner", Role.PRACTITIONER, clinic_a), alice)
