"""The before/after comparison in a real browser: the course's baseline photo and its end
photo stacked as a slider, the divider moved with the keyboard, another photo chosen in
place; and without JavaScript, the same two photos side by side."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts import photos, services
from mesoclinic.charts.models import Chart, ChartPhoto, PhotoMoment, PhotoView
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.patients.models import Patient
from tests.e2e.conftest import WIDE, glow_course, sign_in_through_the_form

pytestmark = pytest.mark.browser

SKIN = (226, 178, 148)


def forehead_photo(lines: int, depth: int) -> SimpleUploadedFile:
    """A forehead-coloured frame crossed by ``lines`` furrows ``depth`` pixels deep."""
    image = Image.new("RGB", (900, 600), SKIN)
    draw = ImageDraw.Draw(image)
    red, green, blue = (max(0, c - 25 * depth) for c in SKIN)
    for n in range(lines):
        y = 150 + n * 80
        draw.arc((80, y - 60, 820, y + 90), 200, 340, fill=(red, green, blue), width=depth * 2)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return SimpleUploadedFile("forehead.jpg", out.getvalue(), content_type="image/jpeg")


def photograph(chart: Chart, actor: User, moment: str, lines: int, depth: int) -> None:
    photos.add_photo(
        chart,
        upload=forehead_photo(lines, depth),
        moment=moment,
        body_area=BodyArea.objects.get(code="forehead"),
        view=PhotoView.FRONT,
        actor=actor,
    )


def a_course_photographed(clinic: Clinic) -> tuple[User, Patient, CoursePlan]:
    """A forehead course whose first session (ten weeks ago) and last session (today) have
    front photos before and after."""
    course = glow_course(clinic, ["forehead"])
    pat, asha, patient, plan = course.pat, course.asha, course.patient, course.plan
    first = services.start_chart(ready_session(plan, asha), pat)
    photograph(first, asha, PhotoMoment.BEFORE, lines=4, depth=5)
    photograph(first, asha, PhotoMoment.AFTER, lines=4, depth=4)
    # Photos are taken on the session's day; the session then moves ten weeks back.
    Appointment.objects.filter(pk=first.appointment_id).update(
        starts_at=first.appointment.starts_at - timedelta(weeks=10),
        ends_at=first.appointment.ends_at - timedelta(weeks=10),
    )
    last = services.start_chart(
        ready_session(plan, asha, session_number=plan.sessions_planned), pat
    )
    photograph(last, asha, PhotoMoment.BEFORE, lines=3, depth=2)
    photograph(last, asha, PhotoMoment.AFTER, lines=2, depth=1)
    return pat, patient, plan


def clip_left(photo: Locator) -> float:
    """Where the second photo's clip starts, in percent of its width."""
    clip = photo.evaluate("img => getComputedStyle(img).clipPath")
    match = re.fullmatch(r"inset\(0px 0px 0px ([\d.]+)%\)", clip)
    assert match, clip
    return float(match.group(1))


def test_the_slider_compares_baseline_and_end_by_keyboard(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    signed_rows_removed: None,
    artifacts: Path,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    pat, patient, plan = a_course_photographed(clinic)
    end = plan.sessions_planned
    session_1_after = ChartPhoto.objects.get(chart__session_number=1, moment=PhotoMoment.AFTER)
    url = reverse("charts:photos-compare", args=[patient.pk])

    sign_in_through_the_form(page, pat, start=url)

    pair = page.locator("[data-photo-pair]")
    captions = pair.locator(".pair-caption")
    expect(captions.first).to_contain_text("Baseline (session 1, before)")
    expect(captions.last).to_contain_text(f"End of course (session {end}, after)")
    expect(page.locator(".photo-session-head").first).to_contain_text(
        "Baseline (session 1, before)"
    )
    expect(page.locator(".photo-session-head").last).to_contain_text("days after baseline")

    # The slider, half and half to begin with.
    slider = page.get_by_role("slider", name="Divider")
    expect(slider).to_be_visible()
    expect(page.get_by_role("button", name="Slider")).to_have_attribute("aria-pressed", "true")
    second = pair.locator('img[data-slot="second"]')
    divider = pair.locator(".pair-divider")
    assert clip_left(second) == 50
    start = divider.bounding_box()
    assert start is not None

    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    expect(slider).to_have_value("40")
    assert clip_left(second) == 40
    moved = divider.bounding_box()
    assert moved is not None and moved["x"] < start["x"] - 20
    expect(slider).to_have_attribute("aria-valuetext", re.compile(r"^40% Baseline .*, 60% End"))
    page.keyboard.press("End")
    assert clip_left(second) == 100
    page.keyboard.press("Home")
    assert clip_left(second) == 0
    for _ in range(45):
        page.keyboard.press("ArrowRight")
    assert clip_left(second) == 45

    pair.scroll_into_view_if_needed()
    pair.screenshot(path=artifacts / "photo-slider.png")
    page.screenshot(path=artifacts / "photo-compare.png", full_page=True)

    # Another photo, swapped in place and kept in the address.
    page.get_by_label("First photo", exact=True).select_option(str(session_1_after.pk))
    expect(captions.first).to_contain_text("Session 1, after")
    expect(pair.locator('img[data-slot="first"]')).to_have_attribute(
        "alt", re.compile(r"^Session 1, after · [\d-]+: Forehead, front$")
    )
    expect(page).to_have_url(re.compile(r"first=\d+"))
    assert clip_left(second) == 45

    page.get_by_role("button", name="Side by side").click()
    expect(slider).to_be_hidden()
    first_box = pair.locator('img[data-slot="first"]').bounding_box()
    second_box = second.bounding_box()
    assert first_box is not None and second_box is not None
    assert second_box["x"] > first_box["x"] + first_box["width"] - 1

    # Without JavaScript: the same pair side by side, and no slider.
    context = browser.new_context(
        base_url=live_server.url, viewport=WIDE, java_script_enabled=False
    )
    try:
        plain = context.new_page()
        sign_in_through_the_form(plain, pat, start=url)
        expect(plain.locator(".pair-control")).to_be_hidden()
        boxes = [plain.locator(f'img[data-slot="{slot}"]') for slot in ("first", "second")]
        expect(boxes[0]).to_be_visible()
        left, right = (box.bounding_box() for box in boxes)
        assert left is not None and right is not None
        assert right["x"] > left["x"] + left["width"] - 1
        assert abs(right["y"] - left["y"]) < 1
        plain.get_by_label("First photo", exact=True).select_option(str(session_1_after.pk))
        plain.get_by_role("button", name="Compare these two").click()
        expect(plain.locator(".pair-caption").first).to_contain_text("Session 1, after")
    finally:
        context.close()
