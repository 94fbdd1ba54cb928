"""Booking a course in a real browser: a practitioner plans a course of 8 sessions from the
patient's page, has the sessions proposed, books them in one click, sees them on the course's
timeline and finds them on the clinic's schedule."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.models import Appointment, Room
from mesoclinic.courses.testing import make_bookable
from mesoclinic.patients.models import Patient
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser


def test_a_practitioner_books_a_course_of_eight_sessions_and_sees_its_timeline(
    page: Page, transactional_db: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    alice = create_user("alice.admin", Role.ADMIN, clinic)
    pat = make_bookable(create_user("pat.practitioner", Role.PRACTITIONER, clinic), alice)
    Room.objects.create(clinic=clinic, name="Cabine 1")
    patient = Patient.objects.create(
        clinic=clinic, given_name="Camille", family_name="Rousseau", date_of_birth="1980-03-14"
    )
    today = clinic.today()
    monday = today + timedelta(days=7 - today.weekday())

    sign_in_through_the_form(page, pat, start=f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Plan a course").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Plan a course")
    # The standard protocol's values are there already.
    expect(page.get_by_label("Number of sessions")).to_have_value("8")
    expect(page.get_by_label("Days between sessions")).to_have_value("14")
    page.get_by_label("Indication").select_option(label="Cellulite")
    page.get_by_label("Goals").fill("Smoother thighs before summer")
    page.screenshot(path=artifacts / "course-plan-form-1440.png", full_page=True)
    page.get_by_role("button", name="Plan the course").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Cellulite course")
    sessions = page.get_by_role("list", name="Sessions").get_by_role("listitem")
    expect(sessions).to_have_count(8)
    expect(sessions.filter(has_text="Due")).to_have_count(8)

    page.get_by_label("First session on or after").fill(monday.isoformat())
    page.get_by_label("Room").select_option(label="Cabine 1")
    page.get_by_role("button", name="Propose the sessions").click()
    proposed = page.get_by_role("table", name="Proposed sessions").locator("tbody tr")
    expect(proposed).to_have_count(8)
    expect(proposed.first).to_contain_text(f"{monday:%Y-%m-%d}")
    expect(proposed.first).to_contain_text("09:00")
    page.screenshot(path=artifacts / "course-proposal-1440.png", full_page=True)
    assert not Appointment.objects.exists()

    page.get_by_role("button", name="Book these 8 sessions").click()
    expect(page.locator(".messages")).to_contain_text("8 sessions booked")
    expect(sessions.filter(has_text="Booked")).to_have_count(8)
    expect(sessions.first).to_contain_text(f"{monday:%Y-%m-%d} at 09:00")
    expect(sessions.first).to_contain_text("Cabine 1")
    page.screenshot(path=artifacts / "course-timeline-1440.png", full_page=True)
    booked = list(Appointment.objects.order_by("starts_at"))
    assert [a.session_number for a in booked] == list(range(1, 9))
    gaps = {(b.starts_at.date() - a.starts_at.date()).days for a, b in pairwise(booked)}
    assert gaps == {14}

    # The first session on the clinic's week, and on a phone.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule").click()
    page.get_by_label("Show", exact=True).select_option("week")
    page.get_by_label("Date", exact=True).fill(monday.isoformat())
    page.get_by_role("button", name="Show").click()
    monday_column = page.get_by_role("region", name=re.compile(f"^{monday:%a %d %b}"))
    expect(monday_column).to_contain_text("Camille Rousseau")
    expect(monday_column).to_contain_text("Session 1")
    page.screenshot(path=artifacts / "schedule-week-1440.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/courses/plans/{booked[0].plan_id}/")
    expect(sessions.filter(has_text="Booked")).to_have_count(8)
    page.screenshot(path=artifacts / "course-timeline-390.png", full_page=True)
