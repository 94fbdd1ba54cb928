"""The few journeys a clinician takes through the base UI, in a real browser."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import Page, ViewportSize, expect

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import PASSWORD
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser

NARROW: ViewportSize = {"width": 360, "height": 740}
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"


@pytest.fixture
def alice(transactional_db: None) -> User:
    """A practitioner of one clinic, as the top bar should present her."""
    clinic = Clinic.objects.create(name="Clinique du Parc", slug="parc")
    return get_user_model().objects.create_user(
        username="alice",
        password=PASSWORD,
        first_name="Alice",
        last_name="Martin",
        clinic=clinic,
        role=Role.PRACTITIONER,
    )


def submit_the_form(page: Page, username: str, password: str) -> None:
    """The first step only: the home page sends an anonymous visitor to the form."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_clinician_signs_in_and_reads_the_indications(
    page: Page, alice: User, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)

    sign_in_through_the_form(page, alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinique du Parc")
    expect(page.get_by_role("banner")).to_contain_text("Alice Martin")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.screenshot(path=artifacts / "home-1440.png", full_page=True)

    # The catalogue is one of the Formulary pages, behind the group's disclosure.
    menu = page.get_by_role("navigation", name="Main")
    menu.locator("summary", has_text="Formulary").click()
    menu.get_by_role("link", name="Catalogue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalogue")
    expect(menu.locator("summary.active")).to_have_text(re.compile(r"^Formulary\b"))
    expect(menu.get_by_role("link", name="Catalogue", include_hidden=True)).to_have_attribute(
        "aria-current", "page"
    )
    page.screenshot(path=artifacts / "catalogue-1440.png", full_page=True)
    if os.environ.get("MESOCLINIC_UPDATE_DOCS_SCREENSHOT"):
        # Only on request: the page shows when the catalogue was loaded, so rewriting the
        # committed picture on every run would leave the working tree dirty.
        page.screenshot(path=DOCS_SCREENSHOT)

    page.get_by_role("link", name=re.compile(r"^Indications\b")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Indications")
    expect(page.get_by_role("row", name=re.compile(r"^Cellulite\b"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^Alopecia \(hair loss\)"))).to_be_visible()
    page.screenshot(path=artifacts / "indications-1440.png", full_page=True)

    page.set_viewport_size(NARROW)
    expect(page.get_by_role("row", name=re.compile(r"^Cellulite\b"))).to_be_visible()
    # The table scrolls inside its wrapper; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    page.screenshot(path=artifacts / "indications-360.png", full_page=True)


def test_a_wrong_password_is_refused_on_the_sign_in_page(
    page: Page, alice: User, artifacts: Path
) -> None:
    submit_the_form(page, "alice", "not her password")

    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("alice")
    # The person retypes only the password, so that is where the cursor waits.
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.screenshot(path=artifacts / "login-error-1440.png", full_page=True)
    page.set_viewport_size(NARROW)
    page.screenshot(path=artifacts / "login-error-360.png", full_page=True)


def test_the_skip_link_comes_first_and_moves_focus_to_the_content(
    page: Page, alice: User, artifacts: Path
) -> None:
    sign_in_through_the_form(page, alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinique du Parc")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.screenshot(path=artifacts / "skip-link-focused-1440.png")

    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The next Tab continues inside the content, past the header and the menu.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
