"""A session charted on a tablet in a real browser: the practitioner starts the chart from
check-in, taps points on the face map, adds the syringe and picks the lot, sees the volumes
add up, signs with the password and finds the summary PDF."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.charts import editor
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, remove_all_charts, stock_lot
from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import PASSWORD, create_user
from mesoclinic.consent.testing import remove_all_consents
from mesoclinic.courses import plans
from mesoclinic.courses.testing import make_bookable
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Ingredient
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.patients.models import Patient
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def signed_rows_removed(transactional_db: None) -> Iterator[None]:
    """Signed charts and consents refuse DELETE, which is how the database is emptied after
    this test on SQLite: they are removed first, the triggers lifted for that only."""
    yield
    remove_all_charts()
    remove_all_consents()


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
    admin = create_user("alice.admin", Role.ADMIN, clinic)
    pat = make_bookable(create_user("pat.practitioner", Role.PRACTITIONER, clinic), admin)
    asha = create_user("asha.assistant", Role.ASSISTANT, clinic)
    patient = Patient.objects.create(
        clinic=clinic, given_name="Inès", family_name="Garnier", date_of_birth="1979-04-11"
    )
    formula = formulas.create_formula(
        clinic=clinic,
        name="Glow",
        author=pat,
        components=[
            ComponentSpec(
                ingredient=Ingredient.objects.get(clinic__isnull=True, name="Hyaluronic acid"),
                volume_ml=Decimal(1),
                concentration=Decimal("0.5"),
                unit="%",
            )
        ],
        total_volume_ml=Decimal(2),
        actor=pat,
    )
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="wrinkles-and-lines"),
        practitioner=pat,
        protocol=Protocol.objects.get(code="default"),
        areas=BodyArea.objects.filter(code__in=["forehead", "cheeks"]),
        formula_version=formula.current_version,
        actor=pat,
    )
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
