"""My course, for the patient: each course plan with its sessions done, next and to come, the
mix the practitioner planned in plain words, the date from which to stop aspirin and other
anti-inflammatory painkillers, and moving or cancelling a session within the clinic's rules.

Nothing here books or writes by itself: moves and cancellations go through
``courses.booking`` (which audits them and sends ``appointment_changed``, so reminders and
screening follow), and this module only adds the clinic's portal rules in front of it and
records the change in ``PatientChange``, which counts the moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mesoclinic.calendars import calendars
from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import (
    FREEING_STATUS,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    MaintenanceRecall,
    MaintenanceStatus,
)
from mesoclinic.formulas.models import FormulaVersion
from mesoclinic.formulas.services import composition
from mesoclinic.patients.accounts import portal_patient
from mesoclinic.patients.models import Patient
from mesoclinic.portal.models import PatientChange, PatientChangeKind
from mesoclinic.portal.rules import rules_of
from mesoclinic.reminders.models import ReminderKind
from mesoclinic.reminders.planner import session_due_times

# How far ahead a patient is offered new times for a session.
MOVE_HORIZON_DAYS = 21
# Times offered on one day: enough to choose from on a phone, spread over the day.
SLOTS_PER_DAY = 6
# Offered times start on the hour or the half hour, which people remember.
OFFERED_MINUTES = (0, 30)
REASON_MAX_LENGTH = 500

# An ingredient's class in the words a patient reads, by the catalogue's class code. Only
# what kind of substance it is: never what it would do.
CLASS_WORDS = {
    "vitamins": gettext_lazy("a vitamin"),
    "minerals": gettext_lazy("a mineral"),
    "coenzymes": gettext_lazy("a coenzyme"),
    "enzymes": gettext_lazy("an enzyme"),
    "hormones": gettext_lazy("a hormone"),
    "plant-extracts": gettext_lazy("a plant extract"),
    "amino-acids": gettext_lazy("an amino acid"),
    "drug": gettext_lazy("a medicine"),
}


# --- what the patient reads -----------------------------------------------------------------


@dataclass(frozen=True)
class IngredientLine:
    name: str
    kind: str  # plain words, empty for the catalogue's "other"

    @property
    def text(self) -> str:
        if not self.kind:
            return self.name
        return _("%(name)s (%(kind)s)") % {"name": self.name, "kind": self.kind}


def ingredients_of(version: FormulaVersion) -> list[IngredientLine]:
    """Every ingredient of the mix, a product's contents included, by name with its kind."""
    lines = []
    for line in composition(version):
        ingredient = line.ingredient
        code = ingredient.ingredient_class.code
        if code == "other":
            kind = ""
        elif code in CLASS_WORDS:
            kind = str(CLASS_WORDS[code])
        else:
            kind = ingredient.ingredient_class.label.lower()
        lines.append(IngredientLine(ingredient.name, kind))
    return sorted(lines, key=lambda line: line.name.casefold())


class SessionState:
    DONE = "done"
    BOOKED = "booked"
    WAITING = "waiting"  # its time has passed, the clinic has not recorded it yet
    MISSED = "missed"
    CANCELLED = "cancelled"


STATE_WORDS = {
    SessionState.DONE: gettext_lazy("Done"),
    SessionState.BOOKED: gettext_lazy("Booked"),
    SessionState.WAITING: gettext_lazy("Waiting for the clinic to record it"),
    SessionState.MISSED: gettext_lazy("Missed"),
    SessionState.CANCELLED: gettext_lazy("Cancelled"),
}


@dataclass
class SessionLine:
    appointment: Appointment
    state: str
    # Whether the patient may change it themselves now (``mark_changes``).
    may_move: bool = False
    may_cancel: bool = False

    @property
    def state_words(self) -> str:
        return str(STATE_WORDS[self.state])

    @property
    def label(self) -> str:
        return session_label(self.appointment)


def session_label(appointment: Appointment) -> str:
    plan = appointment.plan
    if appointment.kind == AppointmentKind.SESSION and plan and appointment.session_number:
        return _("Session %(number)s of %(planned)s") % {
            "number": appointment.session_number,
            "planned": plan.sessions_planned,
        }
    if appointment.kind == AppointmentKind.MAINTENANCE:
        return _("Maintenance session")
    return _("Appointment")


def _state(appointment: Appointment, now: datetime) -> str:
    if appointment.status == AppointmentStatus.ATTENDED or getattr(appointment, "charted", False):
        return SessionState.DONE
    if appointment.status == AppointmentStatus.CANCELLED:
        return SessionState.CANCELLED
    if appointment.status == AppointmentStatus.NO_SHOW:
        return SessionState.MISSED
    return SessionState.BOOKED if appointment.starts_at > now else SessionState.WAITING


PLAN_STATUS_WORDS: dict[str, Promise] = {
    CourseStatus.PLANNED: gettext_lazy("Planned"),
    CourseStatus.ACTIVE: gettext_lazy("Under way"),
    CourseStatus.COMPLETED: gettext_lazy("Finished"),
    CourseStatus.STOPPED: gettext_lazy("Stopped"),
}


@dataclass
class CourseView:
    """One course plan as the patient sees it."""

    plan: CoursePlan
    sessions: list[SessionLine] = field(default_factory=list)
    maintenance: list[SessionLine] = field(default_factory=list)
    maintenance_due: list[MaintenanceRecall] = field(default_factory=list)
    ingredients: list[IngredientLine] = field(default_factory=list)

    @property
    def status_words(self) -> str:
        return str(PLAN_STATUS_WORDS.get(self.plan.status, self.plan.get_status_display()))

    def _of(self, *states: str) -> list[SessionLine]:
        return [line for line in self.sessions if line.state in states]

    @property
    def done(self) -> list[SessionLine]:
        return self._of(SessionState.DONE)

    @property
    def upcoming(self) -> list[SessionLine]:
        return self._of(SessionState.BOOKED)

    @property
    def next(self) -> SessionLine | None:
        lines = self.upcoming + [m for m in self.maintenance if m.state == SessionState.BOOKED]
        return min(lines, key=lambda line: line.appointment.starts_at) if lines else None

    @property
    def remaining(self) -> list[SessionLine]:
        """Booked course sessions after the next one."""
        upcoming = self.upcoming
        following = self.next
        return [line for line in upcoming if following is None or line is not following]

    @property
    def cancelled(self) -> list[SessionLine]:
        return self._of(SessionState.CANCELLED)

    @property
    def not_booked(self) -> int:
        """Sessions of the plan that nothing holds or has held: to be arranged."""
        held = {
            line.appointment.session_number
            for line in self.sessions
            if line.state != SessionState.CANCELLED
        }
        return max(self.plan.sessions_planned - len(held), 0)

    @property
    def has_booked(self) -> bool:
        return any(
            line.appointment.status == AppointmentStatus.BOOKED
            for line in self.sessions + self.maintenance
        )


def _appointments(patient: Patient) -> QuerySet[Appointment]:
    signed = Chart.objects.filter(appointment=OuterRef("pk"), signed_at__isnull=False)
    return (
        Appointment.objects.filter(patient=patient, clinic=patient.clinic)
        .select_related("plan", "practitioner", "clinic", "room")
        .annotate(charted=Exists(signed))
        .order_by("starts_at", "pk")
    )


def plans_of(patient: Patient) -> QuerySet[CoursePlan]:
    return CoursePlan.objects.filter(patient=patient, clinic=patient.clinic)


def courses_of(patient: Patient, now: datetime) -> list[CourseView]:
    """Every course plan of the patient, open and finished, newest first."""
    plans = list(
        plans_of(patient)
        .select_related("indication", "practitioner", "formula_version__formula")
        .order_by("-created_at", "-pk")
    )
    views = {plan.pk: CourseView(plan) for plan in plans}
    for appointment in _appointments(patient).filter(plan__in=plans):
        assert appointment.plan_id is not None
        line = SessionLine(appointment, _state(appointment, now))
        view = views[appointment.plan_id]
        if appointment.kind == AppointmentKind.MAINTENANCE:
            view.maintenance.append(line)
        else:
            view.sessions.append(line)
    for recall in MaintenanceRecall.objects.filter(
        plan__in=plans, status=MaintenanceStatus.DUE
    ).order_by("due_on"):
        views[recall.plan_id].maintenance_due.append(recall)
    for plan in plans:
        if plan.formula_version is not None:
            views[plan.pk].ingredients = ingredients_of(plan.formula_version)
    return [views[plan.pk] for plan in plans]


def mark_changes(courses: list[CourseView], user: User, now: datetime) -> None:
    """Set on each booked session whether the patient may move or cancel it now."""
    for view in courses:
        for line in view.sessions + view.maintenance:
            if line.state == SessionState.BOOKED:
                line.may_move = move_refusal(line.appointment, user, now) is None
                line.may_cancel = cancel_refusal(line.appointment, user, now) is None


def next_appointment(patient: Patient, now: datetime) -> Appointment | None:
    """The patient's next booked appointment still to come, of any kind."""
    return _appointments(patient).filter(status=AppointmentStatus.BOOKED, starts_at__gt=now).first()


# --- before the session -------------------------------------------------------------------------


def precare_deadline(appointment: Appointment) -> date:
    """The day from which to stop aspirin and other NSAIDs: the session's date in the
    clinic's zone less the clinic's window, the day the pre-care reminder is sent on
    (reminders.planner computes it; screening's engine counts the same way)."""
    window = appointment.clinic.nsaid_window_days()
    due = session_due_times(appointment, window)[ReminderKind.PRE_CARE]
    return due.date()


def check_in_open(appointment: Appointment, now: datetime) -> bool:
    """Whether the session's questions can be answered from home now."""
    if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at <= now:
        return False
    if appointment.kind not in (AppointmentKind.SESSION, AppointmentKind.MAINTENANCE):
        return False
    opens = rules_of(appointment.clinic).check_in_opens_hours
    return appointment.starts_at - timedelta(hours=opens) <= now


def appointment_ics(appointment: Appointment, now: datetime) -> bytes:
    """One appointment as a calendar file: the patient's calendar (the same event, with its
    pre-care and day-before alarms) kept to that appointment, without the feed's refresh."""
    calendar = calendars.patient_calendar(appointment.patient, now)
    wanted = calendars.uid(appointment)
    calendar.subcomponents = [
        component
        for component in calendar.subcomponents
        if component.name != "VEVENT" or str(component.get("uid")) == wanted
    ]
    for name in ("refresh-interval", "x-published-ttl"):
        calendar.pop(name, None)
    return calendars.to_ics(calendar)


# --- moving and cancelling ----------------------------------------------------------------------


def call_the_clinic(clinic: Clinic) -> str:
    if clinic.phone:
        return _("Please call the clinic on %(phone)s.") % {"phone": clinic.phone}
    return _("Please contact the clinic.")


def _refuse(clinic: Clinic, why: str) -> ValidationError:
    return ValidationError(f"{why} {call_the_clinic(clinic)}")


def moves_made(appointment: Appointment) -> int:
    return PatientChange.objects.filter(
        appointment=appointment, kind=PatientChangeKind.MOVE
    ).count()


def _notice(clinic: Clinic) -> timedelta:
    return timedelta(hours=rules_of(clinic).change_notice_hours)


def change_refusal(appointment: Appointment, user: User, now: datetime) -> str | None:
    """Why the patient may not change ``appointment`` at all (move or cancel), or None."""
    clinic = appointment.clinic
    patient = portal_patient(user)
    if patient is None or appointment.patient_id != patient.pk:
        return _("This appointment is not yours.")
    if appointment.status != AppointmentStatus.BOOKED:
        return _("This appointment is %(status)s, so it cannot be changed.") % {
            "status": _state_word(appointment, now).lower()
        }
    if appointment.starts_at <= now:
        return _("This appointment has already taken place.")
    rules = rules_of(clinic)
    if appointment.starts_at - now <= _notice(clinic):
        return _("Changes are possible online until %(hours)s hours before the appointment.") % {
            "hours": rules.change_notice_hours
        }
    return None


def _state_word(appointment: Appointment, now: datetime) -> str:
    return str(STATE_WORDS[_state(appointment, now)])


def move_refusal(appointment: Appointment, user: User, now: datetime) -> str | None:
    """Why the patient may not move ``appointment``, or None."""
    refusal = change_refusal(appointment, user, now)
    if refusal is not None:
        return refusal
    allowed = rules_of(appointment.clinic).moves_per_appointment
    if moves_made(appointment) >= allowed:
        return _("You have already moved this appointment %(count)s times online.") % {
            "count": allowed
        }
    return None


def cancel_refusal(appointment: Appointment, user: User, now: datetime) -> str | None:
    """Why the patient may not cancel ``appointment``, or None."""
    if not rules_of(appointment.clinic).patients_may_cancel:
        return _("The clinic takes cancellations by phone only.")
    return change_refusal(appointment, user, now)


@dataclass(frozen=True)
class DayOptions:
    day: date
    slots: list[datetime]


def _sibling_days(appointment: Appointment) -> tuple[date | None, date | None]:
    """The local days of the course's sessions just before and after this one."""
    plan = appointment.plan
    if plan is None or appointment.session_number is None:
        return None, None
    siblings = plan.appointments.exclude(status=FREEING_STATUS).exclude(pk=appointment.pk)
    siblings = siblings.filter(session_number__isnull=False)
    before = siblings.filter(session_number__lt=appointment.session_number).last()
    after = siblings.filter(session_number__gt=appointment.session_number).first()
    tz = plan.clinic.tz
    return (
        timezone.localdate(before.starts_at, tz) if before else None,
        timezone.localdate(after.starts_at, tz) if after else None,
    )


def _spread(slots: list[datetime], count: int) -> list[datetime]:
    """At most ``count`` of ``slots``, evenly over the day, first and last kept."""
    if len(slots) <= count:
        return slots
    last = len(slots) - 1
    return [slots[round(i * last / (count - 1))] for i in range(count)]


def _day_window(appointment: Appointment, now: datetime) -> tuple[date, date]:
    """The days to look at: from the later of the notice and the interval's first allowed
    day, for up to three weeks, and not past the interval's last allowed day."""
    clinic = appointment.clinic
    first = timezone.localdate(now + _notice(clinic), clinic.tz)
    last: date | None = None
    plan = appointment.plan
    before, after = _sibling_days(appointment)
    if plan is not None:
        low = plan.interval_days - plan.tolerance_days
        high = plan.interval_days + plan.tolerance_days
        if before is not None:
            first = max(first, before + timedelta(days=low))
            last = before + timedelta(days=high)
        if after is not None:
            first = max(first, after - timedelta(days=high))
            last = min(last or date.max, after - timedelta(days=low))
    horizon = first + timedelta(days=MOVE_HORIZON_DAYS - 1)
    return first, min(last or horizon, horizon)


def move_options(appointment: Appointment, now: datetime) -> list[DayOptions]:
    """Free times of the same practitioner (and room) the patient may move to: more than the
    clinic's notice from now, on days that keep the course's interval within its tolerance,
    for up to three weeks, a few per day."""
    clinic = appointment.clinic
    earliest = now + _notice(clinic)
    minutes = round((appointment.ends_at - appointment.starts_at).total_seconds() / 60)
    tz = clinic.tz
    first, last = _day_window(appointment, now)
    options = []
    day = first
    while day <= last:
        slots = [
            start
            for start, _end in booking.free_slots(
                appointment.practitioner,
                day,
                minutes,
                room=appointment.room,
                exclude=appointment,
            )
            if start > earliest
            and start != appointment.starts_at
            and timezone.localtime(start, tz).minute in OFFERED_MINUTES
        ]
        # The interval is booking's to judge; the window above only saves asking it daily.
        if slots and not booking.interval_breaks(appointment, slots[0]):
            options.append(DayOptions(day, _spread(slots, SLOTS_PER_DAY)))
        day += timedelta(days=1)
    return options


def _locked(appointment: Appointment) -> Appointment:
    # Locked so that two moves sent at once (a double tap, two tabs) are counted one after
    # the other and cannot both pass the limit.
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("clinic", "plan", "practitioner", "room", "patient")
        .get(pk=appointment.pk)
    )


def patient_move(
    appointment: Appointment,
    starts_at: datetime,
    user: User,
    request: HttpRequest | None = None,
    *,
    now: datetime | None = None,
) -> Appointment:
    """Move the patient's own appointment to ``starts_at``, one of ``move_options``, within
    the clinic's rules; raises a ``ValidationError`` saying why not (and to call the clinic)
    and changes nothing."""
    now = now or timezone.now()
    clinic = appointment.clinic
    if timezone.is_naive(starts_at):
        raise _refuse(clinic, _("That time is not one of the times offered."))
    with transaction.atomic():
        appointment = _locked(appointment)
        refusal = move_refusal(appointment, user, now)
        if refusal is not None:
            raise _refuse(clinic, refusal)
        if starts_at - now <= _notice(clinic):
            raise _refuse(
                clinic,
                _("The new time must be more than %(hours)s hours from now.")
                % {"hours": rules_of(clinic).change_notice_hours},
            )
        if booking.interval_breaks(appointment, starts_at):
            # Staff may move it there with a reason; a patient cannot give one.
            raise _refuse(
                clinic,
                _(
                    "That day would not keep the spacing between sessions your course needs, "
                    "so the clinic must arrange it with you."
                ),
            )
        offered = {slot for day in move_options(appointment, now) for slot in day.slots}
        if starts_at not in offered:
            ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
            taken = booking.conflicts(
                appointment.practitioner, appointment.room, starts_at, ends_at, appointment
            )
            raise ValidationError(
                _("That time was taken a moment ago by another booking; choose another time.")
                if taken
                else _("That time is not one of the times offered; choose another time.")
            )
        previous = appointment.starts_at
        try:
            booking.move_appointment(appointment, starts_at, user, request=request)
        except ValidationError as error:
            if booking.TAKEN in error.messages:
                raise ValidationError(
                    _("That time was taken a moment ago by another booking; choose another time.")
                ) from None
            raise _refuse(clinic, _("That time can no longer be booked.")) from None
        PatientChange.objects.create(
            appointment=appointment,
            kind=PatientChangeKind.MOVE,
            by=user,
            at=timezone.now(),
            from_starts_at=previous,
            to_starts_at=starts_at,
        )
    return appointment


def patient_cancel(
    appointment: Appointment,
    reason: str,
    user: User,
    request: HttpRequest | None = None,
    *,
    now: datetime | None = None,
) -> Appointment:
    """Cancel the patient's own appointment, when the clinic allows it and outside its
    notice; raises a ``ValidationError`` saying why not and changes nothing."""
    now = now or timezone.now()
    clinic = appointment.clinic
    reason = reason.strip()
    with transaction.atomic():
        appointment = _locked(appointment)
        refusal = cancel_refusal(appointment, user, now)
        if refusal is not None:
            raise _refuse(clinic, refusal)
        if not reason:
            raise ValidationError(_("Tell the clinic why you are cancelling."))
        if len(reason) > REASON_MAX_LENGTH:
            raise ValidationError(
                _("Keep the reason under %(count)s characters.") % {"count": REASON_MAX_LENGTH}
            )
        previous = appointment.starts_at
        booking.cancel_appointment(
            appointment, f"By the patient in the portal: {reason}", user, request=request
        )
        PatientChange.objects.create(
            appointment=appointment,
            kind=PatientChangeKind.CANCEL,
            by=user,
            at=timezone.now(),
            from_starts_at=previous,
        )
    return appointment
