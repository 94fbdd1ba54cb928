"""A session charted on a tablet in a real browser: the practitioner starts the chart from
check-in, taps points on the face map, adds the syringe and picks the lot, sees the volumes
add up, signs with the password and finds the summary PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.charts import editor
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, stock_lot
from mesoclinic.clinics.models import Clinic
from mesoclinic.clinics.testing import PASSWORD
from tests.e2e.conftest import glow_course, sign_in_through_the_form

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


def tap(page: Page, view: str, x: float, y: float) -> None:
    """Tap the map's ``view`` at (x, y) in the view's own units."""
    svg = page.locator(f'svg.bodymap-svg[data-view="{view}"]')
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    assert box is not None
    left, top, width, height = (float(v) for v in svg.get_attribute("viewBox").split())  # type: ignore[union-attr]
    cx, cy = (
        box["x"] + (x - left) / width * box["width"],
        box["y"] + (y - top) / height * box["height"],
    )
    page.mouse.click(cx, cy)


def test_a_practitioner_charts_a_session_on_a_tablet(
    page: Page, signed_rows_removed: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    course = glow_course(clinic, ["forehead", "cheeks"])
    pat, asha, plan = course.pat, course.asha, course.plan
    session = ready_session(plan, asha)
    lot = stock_lot(clinic, pat, name="HA 1 %", number="HA-2611")

    page.set_viewport_size(TABLET)
    sign_in_through_the_form(page, pat, start=f"/screening/appointments/{session.pk}/")
    page.get_by_role("button", name="Start the chart").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chart")
    chart = Chart.objects.get(appointment=session)

    # Three taps: two on the forehead, one on the patient's left cheek.
    points = page.locator("svg.bodymap-svg circle.point")
    for number, (x, y) in enumerate([(88, 60), (112, 62), (140, 125)], start=1):
        tap(page, "face", x, y)

        expect(points).to_have_count(number)
    expect(page.locator(".chart-areas fieldset")).to_have_count(2)
    expect(page.locator(".chart-areas")).to_contain_text("Cheeks")

    # The first tap brought a syringe: its volume, and the lot it was filled from.
    page.locator('select[name="syringe-0-lot-0-lot"]').select_option(str(lot.pk))
    page.get_by_label("Volume drawn (mL)").fill("0.15")
    page.locator('input[name="syringe-0-lot-0-volume_ml"]').fill("0.10")
    page.get_by_label("Anaesthetic cream").focus()
    expect(page.locator("#chart-checks")).to_contain_text("its lots add up to 0.10 mL")
    page.locator('input[name="syringe-0-lot-0-volume_ml"]').fill("0.15")
    page.get_by_label("Anaesthetic cream").fill("Lidocaine 5 % cream")
    page.get_by_label("Minutes on the skin").fill("20")
    page.get_by_label("Started").fill(editor.local_input(session.starts_at, clinic.tz))
    page.get_by_label("Anaesthetic cream").focus()
    expect(page.locator("#chart-checks")).to_contain_text("Record when the session")
    page.get_by_role("button", name="Now").nth(1).click()
    expect(page.locator("#chart-checks")).to_contain_text("Everything adds up")

    page.locator(".bodymap-face").scroll_into_view_if_needed()
    page.locator(".bodymap-face").screenshot(path=artifacts / "chart-face-map-tablet.png")
    page.screenshot(path=artifacts / "chart-editor-tablet.png", full_page=True)

    # The draft survives a closed tab: a new page shows what was charted.
    page.reload()
    expect(points).to_have_count(3)

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the chart").click()
    expect(page.locator(".messages")).to_contain_text("Chart signed")
    summary = page.get_by_role("link", name="Treatment summary (PDF)")
    expect(summary).to_be_visible()
    page.screenshot(path=artifacts / "chart-signed-tablet.png", full_page=True)

    chart.refresh_from_db()
    assert chart.signed_by == pat
    lot.refresh_from_db()
    assert lot.remaining_units == 9
    response = page.request.get(summary.get_attribute("href") or "")
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
