"""Intake in a real browser: an assistant signs in with two factors, adds a patient and a
medication, and sees the medication recognised as an NSAID."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import PASSWORD, create_user

pytestmark = pytest.mark.browser


def test_an_assistant_adds_a_patient_taking_ibuprofen(
    page: Page, transactional_db: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(name="Clinique des Tilleuls", slug="tilleuls")
    asha = create_user("asha.assistant", Role.ASSISTANT, clinic)
    device = TOTPDevice.objects.create(user=asha, name="phone", confirmed=True)

    page.goto("/")
    page.get_by_label("Username").fill("asha.assistant")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in")
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_label("6-digit code").fill(f"{code:0{device.digits}d}")
    page.get_by_role("button", name="Verify").click()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    page.get_by_role("link", name="Add a patient").click()
    page.get_by_label("Given name").fill("Camille")
    page.get_by_label("Family name").fill("Rousseau")
    page.get_by_label("Date of birth").fill("1980-03-14")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Phone").fill("06 12 34 56 78")
    page.get_by_role("button", name="Add patient").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Camille Rousseau")
    # The add forms stay folded until asked for, so the record itself comes first.
    page.get_by_text("Add a medication", exact=True).click()
    page.get_by_label("Drug", exact=True).fill("ibuprofen")
    page.get_by_label("Dose", exact=True).fill("400 mg")
    page.get_by_label("Last dose taken").fill("2025-05-01")
    page.get_by_role("button", name="Add medication").click()

    row = page.get_by_role("row", name=re.compile(r"^ibuprofen\b"))
    expect(row).to_contain_text("Anti-inflammatory painkillers (NSAIDs)")
    expect(row).to_contain_text("recognised as ibuprofen")
    expect(row).to_contain_text("2025-05-01")
    expect(page.get_by_role("list").filter(has_text="recognised as ibuprofen")).to_be_visible()
    page.screenshot(path=artifacts / "patient-intake-1440.png", full_page=True)
