"""iCalendar documents of appointments: a practitioner's feed, a patient's feed and the
download of a course plan's sessions.

Each appointment is one VEVENT whose UID never changes, and whose SEQUENCE counts the saved
versions of the appointment (its history): a moved or cancelled session therefore replaces
the copy a calendar app already holds. Feeds keep cancelled appointments, marked
STATUS:CANCELLED, so that calendars which imported them remove them too. Times carry the
clinic's time zone and its VTIMEZONE, so that 10:00 in Paris stays 10:00 on both sides of a
daylight-saving change. A practitioner's feed names patients by their initials only: a
calendar is synced to phones and shared with colleagues, no place for a patient's name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from icalendar import Alarm, Calendar, Event, vDuration

from mesoclinic.catalogue.models import PreCareRule
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import NSAID_PRECARE_RULE, AuditAction, Clinic, User
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
)
from mesoclinic.patients.models import Patient

PRODID = "-//mesoclinic//Appointments//EN"
# A feed covers the recent past, for "when did I see them", and the year ahead, which holds
# a whole course and its first maintenance session.
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=365)
# How often a subscribed calendar app should fetch the feed again.
REFRESH_INTERVAL = timedelta(hours=1)
DAY_BEFORE = timedelta(days=1)
# The VTIMEZONE covers the events' dates and this much around them: a zone's whole history
# would be most of the file, and its rules of the year around are all a calendar app needs.
TIME_ZONE_MARGIN = timedelta(days=366)


def uid(appointment: Appointment) -> str:
    return f"appointment-{appointment.pk}@{appointment.clinic.slug}.mesoclinic"


def initials(patient: Patient) -> str:
    return "".join(f"{name[:1].upper()}." for name in (patient.given_name, patient.family_name))


def _with_revisions(appointments: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """Annotate ``revisions``: how many versions of each appointment were saved."""
    history = Appointment.history.model
    count = (
        history.objects.filter(id=OuterRef("pk"))
        .order_by()
        .values("id")
        .annotate(n=Count("history_id"))
        .values("n")
    )
    return appointments.select_related(
        "clinic", "practitioner", "room", "plan", "patient"
    ).annotate(revisions=Coalesce(Subquery(count, output_field=IntegerField()), 1))


def _what(appointment: Appointment) -> str:
    plan = appointment.plan
    if appointment.kind == AppointmentKind.SESSION and plan and appointment.session_number:
        return f"Course session {appointment.session_number} of {plan.sessions_planned}"
    if appointment.kind == AppointmentKind.OTHER:
        return "Appointment"
    return appointment.get_kind_display()


def _new_calendar(name: str, *, feed: bool) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    if feed:
        calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        # Outlook's name for it; as an unknown property it needs its type spelled out.
        calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    return calendar


def _event(appointment: Appointment, summary: str, location: str, now: datetime) -> Event:
    tz = appointment.clinic.tz
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    event = Event()
    event.add("uid", uid(appointment))
    event.add("dtstamp", now)
    event.add("dtstart", timezone.localtime(appointment.starts_at, tz))
    event.add("dtend", timezone.localtime(appointment.ends_at, tz))
    event.add("sequence", appointment.revisions - 1)  # type: ignore[attr-defined]
    event.add("summary", f"Cancelled: {summary}" if cancelled else summary)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    # A cancelled appointment no longer makes anyone busy.
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    return event


def _alarm(before: timedelta, text: str) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -before)
    alarm.add("description", text)
    return alarm


def _patient_event(appointment: Appointment, rules: list[PreCareRule], now: datetime) -> Event:
    clinic = appointment.clinic
    address = ", ".join(line.strip() for line in clinic.address.splitlines() if line.strip())
    event = _event(
        appointment,
        f"{_what(appointment)} at {clinic.name}",
        ", ".join(filter(None, [clinic.name, address])),
        now,
    )
    description = f"With {appointment.practitioner}."
    if clinic.phone:
        description += f"\nTo move or cancel it, call {clinic.phone}."
    event.add("description", description)
    if appointment.status == AppointmentStatus.BOOKED:
        for rule in rules:
            # A clinic may set its own NSAID window; other rules keep the catalogue's.
            days = (
                clinic.nsaid_window_days() if rule.code == NSAID_PRECARE_RULE else rule.window_days
            )
            event.add_component(_alarm(timedelta(days=days), rule.message_for(days)))
        starts = timezone.localtime(appointment.starts_at, clinic.tz)
        event.add_component(
            _alarm(
                DAY_BEFORE,
                f"Tomorrow at {starts:%H:%M}: your session at {clinic.name}. Small bruises "
                "or swelling where the needle went in are common and settle within a day.",
            )
        )
    return event


def _practitioner_event(appointment: Appointment, now: datetime) -> Event:
    room = appointment.room.name if appointment.room else ""
    summary = " · ".join(filter(None, [initials(appointment.patient), _what(appointment), room]))
    return _event(
        appointment, summary, ", ".join(filter(None, [room, appointment.clinic.name])), now
    )


def _window(now: datetime) -> dict[str, datetime]:
    return {"starts_at__gte": now - FEED_PAST, "starts_at__lt": now + FEED_AHEAD}


def _precare_rules() -> list[PreCareRule]:
    return list(PreCareRule.objects.filter(retired=False).order_by("window_days", "code"))


def practitioner_calendar(practitioner: User, clinic: Clinic, now: datetime) -> Calendar:
    """The practitioner's appointments in ``clinic`` from a month ago to a year ahead."""
    calendar = _new_calendar(f"{clinic.name}: my appointments", feed=True)
    appointments = _with_revisions(
        Appointment.objects.filter(practitioner=practitioner, clinic=clinic, **_window(now))
    )
    for appointment in appointments:
        calendar.add_component(_practitioner_event(appointment, now))
    return calendar


def patient_calendar(patient: Patient, now: datetime) -> Calendar:
    """The patient's own appointments from a month ago to a year ahead, with the pre-care
    and day-before alarms on those still booked."""
    calendar = _new_calendar(f"My appointments at {patient.clinic.name}", feed=True)
    appointments = _with_revisions(
        Appointment.objects.filter(patient=patient, clinic=patient.clinic, **_window(now))
    )
    rules = _precare_rules()
    for appointment in appointments:
        calendar.add_component(_patient_event(appointment, rules, now))
    return calendar


def plan_calendar(plan: CoursePlan, now: datetime) -> Calendar:
    """Every booked session of the course, each with its pre-care and day-before alarms:
    the file a patient imports into their calendar."""
    calendar = _new_calendar(f"My sessions at {plan.clinic.name}", feed=False)
    rules = _precare_rules()
    appointments = _with_revisions(plan.appointments.filter(status=AppointmentStatus.BOOKED))
    for appointment in appointments:
        calendar.add_component(_patient_event(appointment, rules, now))
    return calendar


def to_ics(calendar: Calendar) -> bytes:
    """The calendar as a file, with the VTIMEZONE of the times it uses."""
    starts = [event.start for event in calendar.events]
    if starts:
        calendar.add_missing_timezones(
            min(starts) - TIME_ZONE_MARGIN, max(starts) + TIME_ZONE_MARGIN
        )
    return calendar.to_ical()


def export_plan(plan: CoursePlan, actor: User, request: HttpRequest | None = None) -> bytes:
    """The course's .ics file; handing a patient's schedule out of the system is audited."""
    data = to_ics(plan_calendar(plan, timezone.now()))
    audit.record(AuditAction.EXPORT, request=request, actor=actor, obj=plan, format="ics")
    return data
