"""The main menu in a real browser: one line on a desktop, a Menu button on a phone, groups
that open and close from the keyboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import create_user
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser

# The rows the bar's entries sit on: one top edge per line.
BAR_LINES = """() => new Set(
  [...document.querySelectorAll('.mainnav-list > li')].map((li) => li.offsetTop)
).size"""


@pytest.fixture
def admin_page(page: Page, transactional_db: None) -> Page:
    clinic = Clinic.objects.create(name="Clinique des Tilleuls", slug="tilleuls")
    # The busiest menu: an administrator may open every page.
    sign_in_through_the_form(page, create_user("alma.admin", Role.ADMIN, clinic))
    return page


@pytest.mark.parametrize("width", [1440, 1280, 768])
def test_the_whole_menu_holds_on_one_line(admin_page: Page, width: int) -> None:
    admin_page.set_viewport_size({"width": width, "height": 800})
    menu = admin_page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="Patients")).to_be_visible()
    expect(menu.get_by_role("button", name="Menu")).to_be_hidden()
    assert admin_page.evaluate(BAR_LINES) == 1
    # An open group stays inside the window, the last one included.
    menu.locator("summary", has_text="Account").click()
    expect(menu.get_by_role("link", name="My calendar")).to_be_visible()
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_group_opens_and_closes_from_the_keyboard(admin_page: Page, artifacts: Path) -> None:
    page = admin_page
    menu = page.get_by_role("navigation", name="Main")
    clinic = menu.locator("summary", has_text="Clinic")
    clinic.focus()
    page.keyboard.press("Enter")
    expect(menu.get_by_role("link", name="Rooms and hours")).to_be_visible()
    page.keyboard.press("Tab")
    expect(menu.get_by_role("link", name="Staff")).to_be_focused()
    page.screenshot(path=artifacts / "menu-group-open-1440.png")

    # Escape closes it and gives the focus back to the group's button.
    page.keyboard.press("Escape")
    expect(menu.get_by_role("link", name="Staff")).to_be_hidden()
    expect(clinic).to_be_focused()

    # Opening a second group closes the first; a click elsewhere closes the second.
    clinic.click()
    menu.locator("summary", has_text="Formulary").click()
    expect(menu.get_by_role("link", name="Staff")).to_be_hidden()
    expect(menu.get_by_role("link", name="Lots")).to_be_visible()
    page.get_by_role("heading", level=1).click(position={"x": 5, "y": 5})
    expect(menu.get_by_role("link", name="Lots")).to_be_hidden()

    # Tabbing on past the group's last page closes it.
    menu.locator("summary", has_text="Follow-up").click()
    menu.get_by_role("link", name="Reminders").focus()
    page.keyboard.press("Tab")
    expect(menu.get_by_role("link", name="Reminders")).to_be_hidden()

    # The page opened from a group is current, and so is the group.
    menu.locator("summary", has_text="Follow-up").click()
    menu.get_by_role("link", name="Maintenance due").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Maintenance")
    expect(menu.locator("summary.active")).to_have_text(re.compile(r"^Follow-up\b"))
    expect(menu.get_by_role("link", name="Maintenance due", include_hidden=True)).to_have_attribute(
        "aria-current", "page"
    )


def test_on_a_phone_the_menu_opens_from_a_button(admin_page: Page, artifacts: Path) -> None:
    page = admin_page
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto("/clinic/staff/")
    menu = page.get_by_role("navigation", name="Main")
    button = menu.get_by_role("button", name="Menu")
    expect(button).to_be_visible()
    expect(menu).to_contain_text("Staff")  # the current page, beside the button
    expect(menu.get_by_role("link", name="Patients")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    button.click()
    expect(menu.get_by_role("link", name="Patients")).to_be_visible()
    expect(menu.locator("summary.active")).to_have_text(re.compile(r"^Clinic\b"))
    menu.locator("summary", has_text="Follow-up").click()
    page.screenshot(path=artifacts / "menu-open-360.png")
    menu.get_by_role("button", name="Close").click()
    expect(menu.get_by_role("link", name="Patients")).to_be_hidden()

    button.click()
    menu.locator("summary", has_text="Follow-up").click()
    menu.get_by_role("link", name="Courses").click()
    expect(page).to_have_url(re.compile(r"/courses/plans/$"))
