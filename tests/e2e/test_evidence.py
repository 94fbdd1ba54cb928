"""The evidence pages on the demo clinic, in a real browser: the plots draw (plotly from our own
static files, nothing fetched elsewhere), each beside its table, and the demo's outbreak on
one lot is on the alerts page with the patients to contact; a researcher sees the aggregates
and is refused the alerts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, ViewportSize, expect

from mesoclinic.clinics.models import Role, User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, build_demo, demo_today
from mesoclinic.evidence.models import OutbreakAlert
from tests.e2e.conftest import WIDE, sign_in_through_the_form

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
FITS = "width => document.documentElement.scrollWidth <= width"
# plotly.js marks a div it has drawn into with this class, and draws several SVG layers in it.
PLOT = ".js-plotly-plot"
DRAWN_PLOT = f"{PLOT} .main-svg"


def expect_drawn(page: Page, count: int) -> None:
    expect(page.locator(PLOT)).to_have_count(count)
    for index in range(count):
        expect(page.locator(PLOT).nth(index).locator(".main-svg").first).to_be_visible()


def demo_user(username: str) -> User:
    user = User.objects.get(username=username)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def test_the_demo_evidence_pages_draw_their_plots_and_the_outbreak_alert(
    page: Page, signed_rows_removed: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    summary = build_demo(DEFAULT_SEED, DEFAULT_PATIENTS, demo_today())
    lot_number = summary.cluster_lot.rsplit(" lot ", 1)[1]  # "<product> lot <number>"
    alert = OutbreakAlert.objects.get(lot__lot_number=lot_number, kind="lot", status="open")
    page.set_viewport_size(WIDE)
    sign_in_through_the_form(page, demo_user("dr.moreau"), reverse("evidence:outcomes"))

    expect(page.get_by_role("heading", level=1)).to_have_text("Outcomes by formula")
    expect(page.get_by_text("cannot prove that the formula caused it")).to_be_visible()
    plots = page.locator(DRAWN_PLOT)
    expect(plots.first).to_be_visible()
    # Each plot has its numbers in a table beside it, and a CSV of them.
    expect(page.locator(".evidence-pair table").first).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("CSV")).first).to_be_visible()
    expect(page.get_by_role("navigation", name="Indications on this page")).to_be_visible()
    # The other groupings are folded: a table shows once its summary is opened.
    by_practitioner = page.locator("details.grouping", has_text="By practitioner").first
    expect(by_practitioner.locator("table")).to_be_hidden()
    by_practitioner.locator("summary").click()
    expect(by_practitioner.locator("table")).to_be_visible()
    page.screenshot(path=artifacts / "evidence-outcomes.png", full_page=True)
    # On a phone the page itself never scrolls sideways: wide tables scroll in their frame.
    # (Waited for: plotly redraws its plots to the new width after the resize event.)
    page.set_viewport_size(PHONE)
    page.wait_for_function(FITS, arg=PHONE["width"])
    page.screenshot(path=artifacts / "evidence-outcomes-390.png", full_page=True)
    page.set_viewport_size(WIDE)

    page.get_by_role("link", name="Side-effect rates").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Side-effect rates")
    expect_drawn(page, 2)
    page.screenshot(path=artifacts / "evidence-safety.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_function(FITS, arg=PHONE["width"])
    page.set_viewport_size(WIDE)

    page.get_by_role("link", name="Outbreak alerts").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbreak alerts")
    link = page.get_by_role("link", name=re.compile(re.escape(lot_number)))
    expect(link.first).to_be_visible()
    # The lot used in the same sessions and the patients' clinic days are listed under it.
    expect(page.get_by_text(f"Infected patients all in alert {alert.pk}").first).to_be_visible()
    expect_drawn(page, 1)
    page.screenshot(path=artifacts / "evidence-alerts.png", full_page=True)

    page.goto(reverse("evidence:alert", args=[alert.pk]))
    contacts = alert.contacts.select_related("patient")
    assert contacts.count() == alert.exposed_patients >= 3
    for contact in contacts:
        patient = contact.patient
        name = f"{patient.family_name}, {patient.given_name}"
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Quarantine"))).to_be_visible()
    expect(page.get_by_role("heading", name="Probably the same cluster")).to_be_visible()
    page.screenshot(path=artifacts / "evidence-alert.png", full_page=True)


def test_a_researcher_sees_the_aggregates_and_not_the_alerts(
    page: Page, signed_rows_removed: None
) -> None:
    call_command("load_catalogue", verbosity=0)
    build_demo(DEFAULT_SEED, DEFAULT_PATIENTS, demo_today())
    researcher = demo_user("researcher")
    assert researcher.role == Role.RESEARCHER
    # Researchers open no record, so they have no second factor to prove.
    page.goto(reverse("evidence:safety"))
    page.get_by_label("Username").fill(researcher.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/evidence/safety/$"))
    expect(page.locator(DRAWN_PLOT).first).to_be_visible()
    expect(page.get_by_role("link", name="Outbreak alerts")).to_have_count(0)
    # Asked outside the page, whose watcher counts any 4xx as a failure of the page.
    response = page.request.get(page.url.replace("/evidence/safety/", reverse("evidence:alerts")))
    assert response.status == 403
