"""The check-in questions from home: open from the clinic's hours before a session until it
starts, for the patient's own booked session; the answers go into the record and screening
runs again; the patient sees no finding, only a plain word when a painkiller was taken within
the stop window."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from mesoclinic.clinics.models import User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan
from mesoclinic.patients.models import Condition, Medication, Patient
from mesoclinic.portal import before
from mesoclinic.portal.models import PortalRules
from mesoclinic.screening.models import CheckIn, Finding, Screening, Stage


def booked_in(
    plan: CoursePlan, staff: User, hours: float, *, session_number: int = 1
) -> Appointment:
    """A session of ``plan`` starting ``hours`` from now (negative: it has started). Booked
    through the booking rules on a weekday ahead, then moved by a direct UPDATE, as
    ``charts.testing.ready_session`` does: the rules refuse a past time."""
    clinic = plan.clinic
    day = clinic.today() + timedelta(days=21)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    appointment = booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=datetime.combine(day, time(10), tzinfo=clinic.tz),
        minutes=30,
        actor=staff,
        plan=plan,
        session_number=session_number,
    )
    starts_at = timezone.now().replace(microsecond=0) + timedelta(hours=hours)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
    )
    appointment.refresh_from_db()
    return appointment


@pytest.fixture
def tomorrow(face_plan: CoursePlan, bookable_pat: User) -> Appointment:
    return booked_in(face_plan, bookable_pat, 24)


def url(appointment: Appointment) -> str:
    return f"/portal/appointments/{appointment.pk}/check-in/"


def answers(**changes: str) -> dict[str, str]:
    return {
        "nsaid_last_week": "no",
        "nsaid_name": "",
        "nsaid_last_dose": "",
        "new_medications": "",
        "pregnant": "no",
        "notes": "",
    } | changes


def record_of(patient: Patient) -> dict[str, Any]:
    return {
        "check_ins": CheckIn.objects.count(),
        "screenings": Screening.objects.filter(patient=patient).count(),
        "medications": list(
            Medication.objects.filter(patient=patient).values_list("name", "last_dose_taken")
        ),
        "conditions": Condition.objects.filter(patient=patient).count(),
    }


def test_the_questions_are_open_the_day_before_and_the_answers_go_into_the_record(
    portal: Client, tomorrow: Appointment, patient: Patient, patient_user: User
) -> None:
    page = portal.get(url(tomorrow))
    assert page.status_code == 200
    html = page.content.decode()
    assert "In the last 7 days, have you taken aspirin" in html
    assert "<fieldset" in html and "<legend>" in html
    yesterday = tomorrow.clinic.today() - timedelta(days=1)

    response = portal.post(
        url(tomorrow),
        answers(
            nsaid_last_week="yes",
            nsaid_name="Ibuprofen",
            nsaid_last_dose=yesterday.isoformat(),
            new_medications="Vitamin D\n",
            notes="Slept badly.",
        ),
    )

    assert response.status_code == 302
    check_in = CheckIn.objects.get(appointment=tomorrow)
    assert check_in.recorded_by == patient_user
    assert (check_in.nsaid_name, check_in.nsaid_last_dose) == ("Ibuprofen", yesterday)
    ibuprofen = Medication.objects.get(patient=patient, name="Ibuprofen")
    assert ibuprofen.last_dose_taken == yesterday
    assert Medication.objects.filter(patient=patient, name="Vitamin D").exists()
    # Screened again with the answers: the painkiller in the window is found, for the staff.
    assert check_in.screening.stage == Stage.CHECK_IN
    findings = list(Finding.objects.filter(screening=check_in.screening))
    assert any("Ibuprofen" in finding.evidence for finding in findings)

    html = portal.get(url(tomorrow)).content.decode()
    assert "Your practitioner will go through your answers with you" in html
    assert "your session may need to move" in html
    assert "Ibuprofen" in html
    # No clinical finding is shown to the patient.
    for finding in findings:
        assert finding.message not in html
        assert finding.evidence not in html
    assert "Change my answers" in html


def test_no_painkiller_in_the_window_no_warning(portal: Client, tomorrow: Appointment) -> None:
    long_ago = tomorrow.clinic.today() - timedelta(days=12)
    portal.post(
        url(tomorrow),
        answers(nsaid_last_week="yes", nsaid_name="Aspirin", nsaid_last_dose=long_ago.isoformat()),
    )
    html = portal.get(url(tomorrow)).content.decode()
    assert "Thank you" in html
    assert "your session may need to move" not in html


def test_a_pregnancy_goes_into_the_record(
    portal: Client, tomorrow: Appointment, patient: Patient
) -> None:
    assert portal.post(url(tomorrow), answers(pregnant="yes")).status_code == 302
    assert Condition.objects.filter(patient=patient, kind="pregnancy").exists()


def test_the_answers_may_be_given_again_while_the_window_is_open(
    portal: Client, tomorrow: Appointment
) -> None:
    portal.post(url(tomorrow), answers())
    portal.post(url(tomorrow), answers(notes="Started a cold remedy."))
    assert CheckIn.objects.filter(appointment=tomorrow).count() == 2
    html = portal.get(url(tomorrow)).content.decode()
    assert "Started a cold remedy." in html


def test_missing_answers_are_shown_on_the_form_and_change_nothing(
    portal: Client, tomorrow: Appointment, patient: Patient
) -> None:
    before_ = record_of(patient)
    response = portal.post(
        url(tomorrow), answers(nsaid_last_week="yes", nsaid_name="", pregnant="")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please say which painkiller you took." in html
    assert 'aria-invalid="true"' in html
    assert 'id="id_nsaid_name_error"' in html
    assert record_of(patient) == before_

    future = (tomorrow.clinic.today() + timedelta(days=3)).isoformat()
    response = portal.post(
        url(tomorrow),
        answers(nsaid_last_week="yes", nsaid_name="Advil", nsaid_last_dose=future),
    )
    assert response.status_code == 400
    assert "The last dose cannot be in the future." in response.content.decode()
    assert record_of(patient) == before_


def test_before_the_window_opens_the_page_says_when_and_takes_no_answer(
    portal: Client, face_plan: CoursePlan, bookable_pat: User, patient: Patient
) -> None:
    later = booked_in(face_plan, bookable_pat, 72)
    html = portal.get(url(later)).content.decode()
    assert "The questions open on" in html
    assert "Send my answers" not in html
    before_ = record_of(patient)
    assert portal.post(url(later), answers()).status_code == 400
    assert record_of(patient) == before_


def test_the_window_follows_the_clinics_rules(
    portal: Client, face_plan: CoursePlan, bookable_pat: User
) -> None:
    later = booked_in(face_plan, bookable_pat, 72)
    PortalRules.objects.create(clinic=later.clinic, check_in_opens_hours=96)
    assert portal.post(url(later), answers()).status_code == 302


def test_once_the_session_has_started_the_questions_are_closed(
    portal: Client, face_plan: CoursePlan, bookable_pat: User, patient: Patient
) -> None:
    started = booked_in(face_plan, bookable_pat, -0.2)
    assert "the questions are closed" in portal.get(url(started)).content.decode()
    before_ = record_of(patient)
    assert portal.post(url(started), answers()).status_code == 400
    assert record_of(patient) == before_


def test_a_cancelled_session_has_no_questions(
    portal: Client, tomorrow: Appointment, patient: Patient
) -> None:
    Appointment.objects.filter(pk=tomorrow.pk).update(status=AppointmentStatus.CANCELLED)
    assert "not booked" in portal.get(url(tomorrow)).content.decode()
    before_ = record_of(patient)
    assert portal.post(url(tomorrow), answers()).status_code == 400
    assert record_of(patient) == before_


def test_the_window_itself() -> None:
    now = timezone.now()
    window = before.CheckInWindow(now + timedelta(hours=1), now + timedelta(hours=49))
    assert window.state(now) == "not_yet"
    assert window.state(now + timedelta(hours=1)) == "open"
    assert window.state(now + timedelta(hours=49)) == "closed"


def test_another_patient_cannot_see_or_answer(
    other_portal: Client, client: Client, tomorrow: Appointment, patient: Patient
) -> None:
    before_ = record_of(patient)
    assert other_portal.get(url(tomorrow)).status_code == 404
    assert other_portal.post(url(tomorrow), answers()).status_code == 404
    assert record_of(patient) == before_
    # Signed out: to the portal's sign-in.
    response = client.get(url(tomorrow))
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/sign-in/")
