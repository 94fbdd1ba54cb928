"""A failed reminder to look at and retry, for the tests of this app and of the project's
access rules."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from mesoclinic.clinics.models import User
from mesoclinic.courses.models import Appointment
from mesoclinic.patients.models import Patient
from mesoclinic.reminders import planner
from mesoclinic.reminders.models import Reminder, ReminderKind, ReminderStatus


def failed_reminder(practitioner: User) -> Reminder:
    """The day-before reminder of a session far ahead, whose address the mail server refused;
    for a patient of its own (with an address, so that a retry can succeed). The session is
    written directly, at 07:00, clear of any booking a test makes through the rules."""
    clinic = practitioner.clinic
    assert clinic is not None
    patient = Patient.objects.create(
        clinic=clinic,
        given_name="Inès",
        family_name="Moreau",
        date_of_birth=date(1985, 6, 2),
        email="ines.moreau@example.org",
        preferred_language="fr",
    )
    starts = datetime.combine(date(2099, 1, 5), time(7), tzinfo=clinic.tz)
    appointment = Appointment.objects.create(
        clinic=clinic,
        patient=patient,
        practitioner=practitioner,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        created_by=practitioner,
    )
    due = starts - timedelta(days=1)
    kind = ReminderKind.DAY_BEFORE
    return Reminder.objects.create(
        clinic=clinic,
        patient=patient,
        appointment=appointment,
        kind=kind,
        recipient=patient.email,
        due_at=due,
        next_attempt_at=due,
        payload=planner.session_message(kind, appointment, clinic.nsaid_window_days()).as_payload(),
        status=ReminderStatus.FAILED,
        attempts=1,
        last_error="SMTPRecipientsRefused: 550 5.1.1 No such mailbox",
    )
