"""Checking a patient in at the desk: the assistant opens the day's list, answers the
questions with the patient (ibuprofen three days ago), and the screen shows the block, what
fired and what to do."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.catalogue.models import Indication, Protocol
from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses import booking, plans
from mesoclinic.courses.testing import make_bookable
from mesoclinic.patients.models import Patient
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser


def test_check_in_of_a_patient_who_took_ibuprofen_three_days_ago_shows_the_block(
    page: Page, transactional_db: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    alice = create_user("alice.admin", Role.ADMIN, clinic)
    asha = create_user("asha.assistant", Role.ASSISTANT, clinic)
    pat = make_bookable(create_user("pat.practitioner", Role.PRACTITIONER, clinic), alice)
    patient = Patient.objects.create(
        clinic=clinic, given_name="Camille", family_name="Rousseau", date_of_birth="1980-03-14"
    )
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="cellulite"),
        practitioner=pat,
        protocol=Protocol.objects.get(code="default"),
        actor=pat,
    )
    today = clinic.today()
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    booking.book(
        patient=patient,
        practitioner=pat,
        starts_at=datetime.combine(day, time(10), tzinfo=clinic.tz),
        minutes=30,
        plan=plan,
        session_number=1,
        actor=asha,
    )

    sign_in_through_the_form(page, asha, start="/screening/")
    page.goto(f"/screening/?day={day.isoformat()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check-in")
    page.get_by_role("link", name="Camille Rousseau").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Camille Rousseau")

    page.get_by_role("group", name="Any aspirin").get_by_label("Yes").check()
    page.get_by_label("Which one?").fill("Ibuprofen")
    page.get_by_label("Last dose taken on").fill((today - timedelta(days=3)).isoformat())
    page.get_by_role("group", name="Pregnant").get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Check in and screen").click()

    expect(page.locator(".messages")).to_contain_text("screening result: blocked")
    block = page.locator(".finding-block")
    expect(block).to_have_count(1)
    expect(block).to_contain_text("Aspirin or another NSAID taken in the stop window")
    expect(block).to_contain_text("Ibuprofen: last dose")
    expect(block).to_contain_text("Move the session")
    expect(page.get_by_role("alert").first).to_contain_text("the chart cannot start")
    page.screenshot(path=artifacts / "check-in-block-1440.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=artifacts / "check-in-block-360.png", full_page=True)
