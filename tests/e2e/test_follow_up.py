"""The 24-hour follow-up in a real browser: an assistant records by phone that the swelling
is still there a day after the session, the flag appears on the dashboard, and the
practitioner who gave the treatment closes it with the action taken."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.charts.testing import stock_lot
from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.testing import make_bookable
from mesoclinic.followup.models import Flag, FlagAction, FlagKind
from mesoclinic.followup.testing import hours_ago, signed_chart
from mesoclinic.patients.models import Patient
from mesoclinic.screening.tests.conftest import compounded, make_plan
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser


def test_persisting_swelling_is_flagged_and_the_practitioner_closes_it(
    page: Page, signed_rows_removed: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    admin = create_user("alice.admin", Role.ADMIN, clinic)
    pat = make_bookable(create_user("pat.practitioner", Role.PRACTITIONER, clinic), admin)
    asha = create_user("asha.assistant", Role.ASSISTANT, clinic)
    version = compounded(pat, "Glow", ("Hyaluronic acid", "0.5"), ("Biotin", "0.5"))
    lot = stock_lot(clinic, pat)
    ines, marc = (
        Patient.objects.create(
            clinic=clinic,
            given_name=given,
            family_name=family,
            date_of_birth="1979-04-11",
            phone=phone,
        )
        for given, family, phone in (
            ("Inès", "Garnier", "+33 6 11 22 33 44"),
            ("Marc", "Lefèvre", "+33 6 55 66 77 88"),
        )
    )
    swollen = signed_chart(
        make_plan(ines, pat, "wrinkles-and-lines", ["forehead"], version),
        asha,
        lot,
        ended_at=hours_ago(26),
    )
    # A session whose follow-up nobody answered: flagged when the dashboard loads.
    signed_chart(
        make_plan(marc, pat, "wrinkles-and-lines", ["forehead"], version),
        asha,
        lot,
        ended_at=hours_ago(80),
    )

    sign_in_through_the_form(page, asha, start=f"/follow-up/charts/{swollen.pk}/")
    page.get_by_label("Any swelling?").select_option("2")
    page.get_by_label("How it was answered").select_option("phone")
    page.get_by_label("Notes").fill("Still puffy over the forehead; no heat, no pain.")
    page.get_by_role("button", name="Record the follow-up").click()
    expect(page.get_by_text("Follow-up recorded.")).to_be_visible()
    expect(
        page.get_by_text("Swelling still present 26 hours after the session ended")
    ).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in_through_the_form(page, pat, start="/follow-up/")
    flags = page.locator("section[aria-labelledby=flags-heading]")
    expect(
        flags.get_by_text("Swelling still present 26 hours after the session ended")
    ).to_be_visible()
    expect(flags.get_by_text("No answer to the 24-hour follow-up 80 hours after")).to_be_visible()
    expect(page.get_by_role("link", name="Flags", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    flag = Flag.objects.get(kind=FlagKind.PERSISTING)
    item = page.locator(f"#flag-{flag.pk}")
    item.get_by_text("Close with the action taken…").click()
    item.get_by_label("Action taken").select_option(FlagAction.CONTACTED)
    item.get_by_label("What was done").fill("Called her back: cold packs, review on Friday.")
    page.screenshot(path=artifacts / "followup-dashboard.png", full_page=True)
    item.get_by_role("button", name="Close the flag").click()

    expect(page.get_by_text("Flag closed for Inès Garnier")).to_be_visible()
    expect(page.locator(f"#flag-{flag.pk}")).to_have_count(0)
    expect(page.get_by_role("cell", name="Patient contacted, advice given")).to_be_visible()
    flag.refresh_from_db()
    assert (flag.action, flag.closed_by) == (FlagAction.CONTACTED, pat)
