"""Where a measurement falls in its course, from the plan's sessions in the clinic's time zone.

Days are the clinic's calendar days (``clinic.tz``), so that 23:30 and 00:30 fall on the days
a person in the clinic would name, whatever the UTC offset or a change to summer time.

A session counts as held once it was attended or its chart records when it started. It begins
at the start its chart records; without one, at the end of its day: a measurement taken on the
day of a session counts as taken before it, unless the chart shows that the treatment had
begun. Then:

- baseline: before the first session held (on its day, before its chart's start), or while
  none is held;
- session n: after session n, the last held before the measurement, while the course goes on;
- once the course is over (every planned session held, or the plan completed or stopped),
  after its last session, counted in days from the day of that session:
  end of course: days 0 to 42 (6 weeks);
  3 months: days 61 to 136 (2 to 4½ months);
  6 months: days 137 to 273 (4½ to 9 months);
  12 months: days 274 to 456 (9 to 15 months);
  unscheduled: days 43 to 60, and after 15 months.

The time point is stored with the measurement when it is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from mesoclinic.charts.models import Chart
from mesoclinic.courses.models import (
    FREEING_STATUS,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
)
from mesoclinic.outcomes.models import TimePoint

# (time point, first day, last day) after the day of the last session, both days included.
AFTER_COURSE: list[tuple[TimePoint, int, int]] = [
    (TimePoint.END, 0, 42),
    (TimePoint.MONTH_3, 61, 136),
    (TimePoint.MONTH_6, 137, 273),
    (TimePoint.MONTH_12, 274, 456),
]

WINDOWS_HELP = (
    "The time point follows from the course's sessions in the clinic's time zone: before the "
    "first session (on its day, before its chart's start) is baseline; between sessions, the "
    "last session held; once the course is over, counted from the day of its last session, "
    "end of course up to 6 weeks, 3 months from 2 to 4½ months, 6 months from 4½ to 9 months, "
    "12 months from 9 to 15 months, and outside those windows unscheduled."
)


@dataclass(frozen=True)
class HeldSession:
    number: int
    starts_at: datetime  # as booked
    day: date  # the session's day in the clinic's zone
    begins_at: datetime  # its chart's recorded start, else the end of its day
    chart_id: int | None


def held_sessions(plan: CoursePlan) -> list[HeldSession]:
    """The course's numbered sessions that took place, in the order they began."""
    tz = plan.clinic.tz
    charts = {
        chart.appointment_id: chart
        for chart in Chart.objects.filter(plan=plan).only("appointment_id", "started_at")
    }
    held = []
    for appointment in (
        plan.appointments.filter(kind=AppointmentKind.SESSION, session_number__isnull=False)
        .exclude(status__in=[FREEING_STATUS, AppointmentStatus.NO_SHOW])
        .order_by("starts_at", "pk")
    ):
        chart = charts.get(appointment.pk)
        started = chart.started_at if chart is not None else None
        if appointment.status != AppointmentStatus.ATTENDED and started is None:
            continue
        day = timezone.localdate(appointment.starts_at, tz)
        assert appointment.session_number is not None
        held.append(
            HeldSession(
                number=appointment.session_number,
                starts_at=appointment.starts_at,
                day=day,
                begins_at=started if started is not None else _start_of(day + timedelta(1), tz),
                chart_id=chart.pk if chart is not None else None,
            )
        )
    return sorted(held, key=lambda session: session.begins_at)


def course_over(plan: CoursePlan, held: list[HeldSession]) -> bool:
    if plan.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED):
        return True
    return len({session.number for session in held}) >= plan.sessions_planned


def time_point(
    held: list[HeldSession], over: bool, measured_at: datetime, tz: ZoneInfo
) -> tuple[TimePoint, int | None]:
    """The rules of the module's docstring, on sessions already fetched."""
    before = [session for session in held if session.begins_at <= measured_at]
    if not before:
        return TimePoint.BASELINE, None
    last = before[-1]
    if not over or last is not held[-1]:
        return TimePoint.SESSION, last.number
    days = (timezone.localdate(measured_at, tz) - last.day).days
    for point, first, final in AFTER_COURSE:
        if first <= days <= final:
            return point, None
    return TimePoint.UNSCHEDULED, None


def time_point_of(plan: CoursePlan, measured_at: datetime) -> tuple[TimePoint, int | None]:
    held = held_sessions(plan)
    return time_point(held, course_over(plan, held), measured_at, plan.clinic.tz)


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    # A midnight skipped by a clock change still names an instant: read with the offset before.
    return datetime.combine(day, time.min, tzinfo=tz)
