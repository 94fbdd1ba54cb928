"""A course page shows its result in a real browser: the primary scale plotted over time with
the baseline marked and the side effects on the same time axis, and the numbers in a table."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts import services as charts
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import Appointment
from mesoclinic.courses.testing import make_bookable
from mesoclinic.followup.models import AdverseEvent, Reporter
from mesoclinic.outcomes.models import Rater
from mesoclinic.outcomes.testing import measure
from mesoclinic.patients.models import Patient
from mesoclinic.screening.tests.conftest import compounded, make_plan
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser


def test_a_course_page_shows_the_outcome_plot(
    page: Page, signed_rows_removed: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    admin = create_user("alice.admin", Role.ADMIN, clinic)
    pat = make_bookable(create_user("pat.practitioner", Role.PRACTITIONER, clinic), admin)
    patient = Patient.objects.create(
        clinic=clinic, given_name="Inès", family_name="Garnier", date_of_birth="1979-04-11"
    )
    version = compounded(pat, "Thighs 1", ("L-carnitine", "10"), ("Caffeine", "2"))
    plan = make_plan(patient, pat, "cellulite", ["thighs"], version)
    first = clinic.today() - timedelta(days=120)

    def at(days: int, hour: int = 10) -> datetime:
        day = first + timedelta(days=days)
        return datetime(day.year, day.month, day.day, hour, tzinfo=clinic.tz)

    sessions = []
    for number in range(1, 7):
        appointment = ready_session(plan, pat, session_number=number)
        sessions.append(charts.start_chart(appointment, pat))
        starts = at(14 * (number - 1))
        Appointment.objects.filter(pk=appointment.pk).update(
            starts_at=starts, ends_at=starts + timedelta(minutes=30)
        )
        appointment.refresh_from_db()
        booking.record_attended(appointment, pat)
    for chart, side_effect, onset, grade in (
        (sessions[0], "bruising", 0, 1),
        (sessions[2], "swelling", 29, 2),
        (sessions[4], "bruising", 56, 1),
    ):
        AdverseEvent.objects.create(
            clinic=clinic,
            patient=patient,
            chart=chart,
            side_effect=SideEffect.objects.get(code=side_effect),
            onset_on=at(onset).date(),
            grade=grade,
            reporter=Reporter.STAFF,
            reported_by=pat,
        )
    for days, value in ((-7, 11), (0, 10), (15, 10), (43, 9), (71, 8)):
        measure(plan, value, at(days, 9), pat)
    plans.complete_plan(plan, pat)
    measure(plan, 8, at(100), pat)
    measure(plan, 3, at(100), pat, scale="gais")
    measure(plan, 3, at(100), pat, scale="gais", rater=Rater.PATIENT)
    measure(plan, 7, at(100), pat, scale="satisfaction", rater=Rater.PATIENT)

    sign_in_through_the_form(page, pat, f"/courses/plans/{plan.pk}/")

    card = page.locator("section.course-result")
    expect(card.get_by_role("heading", name="Result")).to_be_visible()
    expect(card.locator("#course-result-plot svg.main-svg").first).to_be_visible()
    expect(card.locator("table").first).to_contain_text("Change from baseline to end of course")
    expect(card.locator("table").first).to_contain_text("-2")
    expect(card).to_contain_text("Lower values are better on this scale.")
    expect(card).to_contain_text("Swelling")
    expect(card.locator(".result-missing")).to_have_count(0)
    card.screenshot(path=artifacts / "course-result.png")
