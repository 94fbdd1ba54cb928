"""Setting up a practitioner who can be booked, for the tests of this app and of those that
build on it (reminders, calendars, the demo)."""

from __future__ import annotations

from datetime import date, time

from django.utils import timezone

from mesoclinic.clinics.models import Licence, User
from mesoclinic.courses.models import Weekday, WorkingHours

# Monday to Friday, with a lunch break.
WEEKDAY_HOURS = [(time(9), time(12, 30)), (time(13, 30), time(18))]


def make_bookable(
    practitioner: User,
    verified_by: User,
    *,
    licensed_from: date = date(2020, 1, 1),
    licensed_until: date | None = None,
    days: tuple[int, ...] = (
        Weekday.MONDAY,
        Weekday.TUESDAY,
        Weekday.WEDNESDAY,
        Weekday.THURSDAY,
        Weekday.FRIDAY,
    ),
) -> User:
    """Give ``practitioner`` a verified licence and weekday hours."""
    Licence.objects.create(
        practitioner=practitioner,
        number=f"RPPS-{practitioner.pk:05d}",
        issuing_body="Ordre des médecins",
        jurisdiction="France",
        valid_from=licensed_from,
        valid_until=licensed_until,
        verified_by=verified_by,
        verified_at=timezone.now(),
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=practitioner, weekday=day, starts=starts, ends=ends)
        for day in days
        for starts, ends in WEEKDAY_HOURS
    )
    return practitioner
