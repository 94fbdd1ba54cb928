"""A course plan as a timeline: each planned session done, booked, due, overdue, missed or
not given, with the bookings cancelled on the way, then the maintenance the course called for.

``build_timeline`` computes from rows already fetched, so that it is tested without setting
up bookings; ``plan_timeline`` fetches them for a plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from django.utils import timezone

from mesoclinic.courses.models import (
    FREEING_STATUS,
    Appointment,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    MaintenanceRecall,
    MaintenanceStatus,
)


class SessionState(StrEnum):
    """In the order a course's summary names them: what happened, then what is to come."""

    DONE = "done"
    MISSED = "missed"
    BOOKED = "booked"
    OVERDUE = "overdue"
    DUE = "due"
    NOT_GIVEN = "not_given"  # the course closed before it


SESSION_LABELS = {
    SessionState.DONE: "Done",
    SessionState.MISSED: "Missed",
    SessionState.BOOKED: "Booked",
    SessionState.OVERDUE: "Overdue",
    SessionState.DUE: "Due",
    SessionState.NOT_GIVEN: "Not given",
}

_HELD_STATES = {
    AppointmentStatus.ATTENDED: SessionState.DONE,
    AppointmentStatus.NO_SHOW: SessionState.MISSED,
    AppointmentStatus.BOOKED: SessionState.BOOKED,
}


@dataclass(frozen=True)
class SessionEntry:
    number: int
    state: SessionState
    # The booking that holds the session (attended, missed or booked), if any.
    appointment: Appointment | None = None
    # For a session not booked: when it falls due, and the tolerance window around it.
    expected_on: date | None = None
    earliest: date | None = None
    latest: date | None = None
    # A booked session whose time has passed, waiting for attended or no-show.
    to_record: bool = False
    cancelled: list[Appointment] = field(default_factory=list)

    @property
    def label(self) -> str:
        return SESSION_LABELS[self.state]


@dataclass(frozen=True)
class MaintenanceEntry:
    recall: MaintenanceRecall
    overdue: bool

    @property
    def label(self) -> str:
        return "Overdue" if self.overdue else self.recall.get_status_display()


@dataclass(frozen=True)
class Timeline:
    sessions: list[SessionEntry]
    maintenance: list[MaintenanceEntry]
    # Appointments of the course outside its numbered sessions and current recalls: a
    # maintenance session that was cancelled, for instance.
    others: list[Appointment]

    def count(self, state: SessionState) -> int:
        return sum(1 for entry in self.sessions if entry.state == state)

    def summary(self) -> list[tuple[str, int]]:
        """("done", 2), ("booked", 6): each state the sessions are in, with how many."""
        counts = [(SESSION_LABELS[state].lower(), self.count(state)) for state in SessionState]
        return [(label, count) for label, count in counts if count]


def build_timeline(
    plan: CoursePlan,
    appointments: Iterable[Appointment],
    recalls: Iterable[MaintenanceRecall],
    today: date,
) -> Timeline:
    """``appointments`` are all of the plan's, ``today`` the clinic's date.

    An unbooked session is expected ``interval_days`` after the one before it, held or
    expected; it is overdue once the last day of its tolerance window has passed. The sessions
    after an overdue one are expected from today, as none can happen earlier.
    """
    tz = plan.clinic.tz
    ordered = sorted(appointments, key=lambda a: (a.starts_at, a.pk or 0))
    held: dict[int, Appointment] = {}
    cancelled: dict[int, list[Appointment]] = defaultdict(list)
    unnumbered = []
    for appointment in ordered:
        number = appointment.session_number
        if number is None:
            unnumbered.append(appointment)
        elif appointment.status == FREEING_STATUS:
            cancelled[number].append(appointment)
        else:
            held[number] = appointment
    closed = plan.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED)
    interval = timedelta(days=plan.interval_days)
    tolerance = timedelta(days=plan.tolerance_days)
    now = timezone.now()

    sessions = []
    anchor: date | None = None  # the day of the session before, held or expected
    for number in range(1, plan.sessions_planned + 1):
        holding = held.get(number)
        if holding is not None:
            state = _HELD_STATES[AppointmentStatus(holding.status)]
            sessions.append(
                SessionEntry(
                    number,
                    state,
                    appointment=holding,
                    to_record=state == SessionState.BOOKED and holding.starts_at <= now,
                    cancelled=cancelled[number],
                )
            )
            anchor = timezone.localdate(holding.starts_at, tz)
            continue
        if closed:
            sessions.append(
                SessionEntry(number, SessionState.NOT_GIVEN, cancelled=cancelled[number])
            )
            continue
        expected = anchor + interval if anchor is not None else None
        overdue = expected is not None and expected + tolerance < today
        sessions.append(
            SessionEntry(
                number,
                SessionState.OVERDUE if overdue else SessionState.DUE,
                expected_on=expected,
                earliest=expected - tolerance if expected is not None else None,
                latest=expected + tolerance if expected is not None else None,
                cancelled=cancelled[number],
            )
        )
        anchor = max(expected, today) if expected is not None else None

    recalls = sorted(recalls, key=lambda r: (r.due_on, r.pk or 0))
    current = {recall.appointment_id for recall in recalls if recall.appointment_id is not None}
    return Timeline(
        sessions=sessions,
        maintenance=[
            MaintenanceEntry(r, r.status == MaintenanceStatus.DUE and r.due_on < today)
            for r in recalls
        ],
        others=[a for a in unnumbered if a.pk not in current],
    )


def plan_timeline(plan: CoursePlan, today: date) -> Timeline:
    return build_timeline(
        plan,
        plan.appointments.select_related("room"),
        plan.maintenance.select_related("appointment__room"),
        today,
    )
