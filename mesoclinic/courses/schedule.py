"""The clinic's schedule for a day or a week, in columns: one per practitioner or room for a
day, one per day for a week. The appointments of the range come in one query, with the
patient, practitioner and room joined, so that a busy clinic's week costs no more queries
than a quiet one's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from mesoclinic.clinics.models import User
from mesoclinic.courses.models import FREEING_STATUS, Appointment, Room

WEEKEND = 5  # Saturday's weekday()


class Span(StrEnum):
    DAY = "day"
    WEEK = "week"


class GroupBy(StrEnum):
    PRACTITIONER = "practitioner"
    ROOM = "room"


@dataclass(frozen=True)
class Column:
    label: str
    appointments: list[Appointment]
    day: date | None = None  # the week view's columns are days


@dataclass(frozen=True)
class Schedule:
    span: Span
    days: list[date]
    columns: list[Column]
    previous: date
    next: date

    @property
    def appointments(self) -> list[Appointment]:
        return [a for column in self.columns for a in column.appointments]


def days_of(span: Span, day: date) -> list[date]:
    """The day itself, or the Monday-to-Sunday week it falls in."""
    if span == Span.DAY:
        return [day]
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


def appointments_between(
    appointments: QuerySet[Appointment],
    days: Sequence[date],
    tz: ZoneInfo,
    *,
    include_cancelled: bool = False,
) -> list[Appointment]:
    """Those of ``appointments`` overlapping the days, midnight to midnight in ``tz``."""
    start = datetime.combine(days[0], time(), tzinfo=tz)
    end = datetime.combine(days[-1] + timedelta(days=1), time(), tzinfo=tz)
    found = appointments.filter(starts_at__lt=end, ends_at__gt=start)
    if not include_cancelled:
        found = found.exclude(status=FREEING_STATUS)
    return list(found.select_related("patient", "practitioner", "room").order_by("starts_at", "pk"))


def build_schedule(
    span: Span,
    day: date,
    appointments: Iterable[Appointment],
    tz: ZoneInfo,
    *,
    group_by: GroupBy = GroupBy.PRACTITIONER,
    practitioners: Sequence[User] = (),
    rooms: Sequence[Room] = (),
) -> Schedule:
    """The columns for ``appointments`` (those of ``days_of(span, day)``). A day has a
    column for each of ``practitioners`` (or ``rooms``) even when it is empty, so that a free
    day shows as free, and one for anyone else an appointment names."""
    days = days_of(span, day)
    appointments = list(appointments)
    step = timedelta(days=1 if span == Span.DAY else 7)
    if span == Span.WEEK:
        by_day: dict[date, list[Appointment]] = {d: [] for d in days}
        for appointment in appointments:
            local_day = timezone.localdate(appointment.starts_at, tz)
            by_day.setdefault(local_day, []).append(appointment)
        # A weekend day shows only when something is booked on it: seven columns would
        # leave each too narrow to read, mostly for days the clinic is closed.
        columns = [
            Column(f"{d:%a %d %b}", by_day[d], day=d)
            for d in days
            if d.weekday() < WEEKEND or by_day[d]
        ]
    else:
        columns = _columns_by(group_by, appointments, practitioners, rooms)
    return Schedule(span, days, columns, previous=day - step, next=day + step)


def _room_of(appointment: Appointment) -> tuple[int | None, str]:
    room = appointment.room
    return (room.pk, str(room)) if room is not None else (None, "No room")


def _practitioner_of(appointment: Appointment) -> tuple[int | None, str]:
    return appointment.practitioner_id, str(appointment.practitioner)


def _columns_by(
    group_by: GroupBy,
    appointments: list[Appointment],
    practitioners: Sequence[User],
    rooms: Sequence[Room],
) -> list[Column]:
    if group_by == GroupBy.ROOM:
        labels: dict[int | None, str] = {room.pk: str(room) for room in rooms}
        column_of = _room_of
    else:
        labels = {practitioner.pk: str(practitioner) for practitioner in practitioners}
        column_of = _practitioner_of
    grouped: dict[int | None, list[Appointment]] = {key: [] for key in labels}
    for appointment in appointments:
        key, label = column_of(appointment)
        labels.setdefault(key, label)
        grouped.setdefault(key, []).append(appointment)
    return [Column(label, grouped[key]) for key, label in labels.items()]
