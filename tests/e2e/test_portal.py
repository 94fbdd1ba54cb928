"""The patient portal on a phone (360 px wide, touch): a patient signs in, sees the next
session and the day to stop aspirin, downloads the session for a calendar, answers the
24-hour follow-up and reports a side effect with a photo; then every portal page, signed in
and signed out, in English and in French, has no axe-core violation (WCAG 2.1 A/AA), no
horizontal scroll and weighs at most 200 KB before photos."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateformat import format as date_format
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from mesoclinic.calendars import calendars
from mesoclinic.catalogue.models import BodyArea, PatientInformationPage
from mesoclinic.charts import photos
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart, ChartPhoto, PhotoMoment, PhotoView
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import Clinic
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.consent.testing import plan_consents
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment
from mesoclinic.followup.models import AdverseEvent, EventPhoto, Flag, FlagKind, FollowUp, Reporter
from mesoclinic.followup.testing import hours_ago, signed_chart
from mesoclinic.outcomes.testing import measure
from mesoclinic.patients.models import Patient
from mesoclinic.portal.course import precare_deadline
from mesoclinic.portal.invitations import invite
from mesoclinic.portal.testing import portal_user
from tests.e2e.axe import describe, violations
from tests.e2e.conftest import glow_course, watched_page

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 360, "height": 740}
MAX_PAGE_BYTES = 200 * 1024
SKIN = (226, 178, 148)


@pytest.fixture
def phone_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """``page``, on a phone: 360 by 740, touch, mobile."""
    with watched_page(browser, live_server, viewport=PHONE, is_mobile=True, has_touch=True) as page:
        yield page


def jpeg(lines: int = 3, size: tuple[int, int] = (900, 600)) -> bytes:
    image = Image.new("RGB", size, SKIN)
    draw = ImageDraw.Draw(image)
    for n in range(lines):
        y = 150 + n * 80
        draw.arc((80, y - 60, size[0] - 80, y + 90), 200, 340, fill=(150, 100, 80), width=6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass(frozen=True)
class Portal:
    clinic: Clinic
    patient: Patient
    next_session: Appointment
    day_old: Chart  # ended 30 hours ago: the follow-up is open
    photographed: Chart  # ten days ago, with photos and measurements
    consent_document_pk: int
    invitation_token: str


def a_patient_in_the_portal(settings: Any, tmp_path: Path) -> Portal:
    """Inès Garnier, signed up to the portal, in a wrinkles course: session 1 ten days ago
    (photos, two measurements), session 2 ended 30 hours ago, session 3 booked in twelve
    days (a weekday). Noor Haddad has an open invitation."""
    settings.MEDIA_ROOT = tmp_path
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls",
        slug="tilleuls",
        time_zone="Europe/Paris",
        phone="+33 1 23 45 67 89",
    )
    course = glow_course(clinic, ["forehead"])
    pat, asha, patient, plan = course.pat, course.asha, course.patient, course.plan
    Patient.objects.filter(pk=patient.pk).update(email="Ines.Garnier@example.org")
    patient.refresh_from_db()
    portal_user(patient)
    consents = plan_consents(plan, asha)
    lot = stock_lot(clinic, pat)

    # Session 1, photographed before and after, then moved ten days back and signed.
    first = ready_session(plan, asha, session_number=1)
    ten_days_ago = first.starts_at - timedelta(days=10)
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=ten_days_ago, ends_at=ten_days_ago + timedelta(minutes=30)
    )
    first.refresh_from_db()
    chart = charts.start_chart(first, pat)
    for moment, lines in ((PhotoMoment.BEFORE, 4), (PhotoMoment.AFTER, 3)):
        photos.add_photo(
            chart,
            upload=SimpleUploadedFile("forehead.jpg", jpeg(lines), content_type="image/jpeg"),
            moment=moment,
            body_area=BodyArea.objects.get(code="forehead"),
            view=PhotoView.FRONT,
            actor=asha,
        )
    charts.save_draft(chart, simple_draft(chart, lot), pat)
    photographed = charts.sign_as(chart, pat)

    day_old = signed_chart(plan, asha, lot, ended_at=hours_ago(30), session_number=2)
    measure(plan, 3, ten_days_ago, pat)
    measure(plan, 2, hours_ago(30.2), pat)

    day = clinic.today() + timedelta(days=12)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    next_session = booking.book(
        patient=patient,
        practitioner=pat,
        starts_at=datetime.combine(day, datetime.min.time(), tzinfo=clinic.tz).replace(hour=10),
        minutes=30,
        actor=asha,
        plan=plan,
        session_number=3,
    )

    noor = Patient.objects.create(
        clinic=clinic,
        given_name="Noor",
        family_name="Haddad",
        date_of_birth="1985-02-03",
        email="noor.haddad@example.org",
    )
    invite(noor, course.asha)
    found = re.search(r"/portal/invitation/([^/\s]+)/", str(mail.outbox[-1].body))
    assert found, mail.outbox[-1].body
    return Portal(
        clinic=clinic,
        patient=patient,
        next_session=next_session,
        day_old=day_old,
        photographed=photographed,
        consent_document_pk=consents.draft.pk,
        invitation_token=found.group(1),
    )


def sign_in(page: Page, patient: Patient) -> None:
    page.goto(reverse("portal:login"))
    page.get_by_label("Email address").fill(patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/portal/$"))


def test_a_patient_follows_her_course_on_a_phone(
    phone_page: Page,
    signed_rows_removed: None,
    artifacts: Path,
    settings: Any,
    tmp_path: Path,
) -> None:
    page = phone_page
    portal = a_patient_in_the_portal(settings, tmp_path)
    session = portal.next_session

    sign_in(page, portal.patient)
    with translation.override("en"), timezone.override(portal.clinic.tz):
        starts = timezone.localtime(session.starts_at)
        when = f"{date_format(starts, 'l j F Y')}, {date_format(starts, 'H:i')}"
        stop_from = date_format(precare_deadline(session), "l j F")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Inès")
    next_card = page.locator("section", has=page.get_by_role("heading", name="Your next session"))
    expect(next_card).to_contain_text(when)
    expect(
        page.get_by_text(
            f"Stop aspirin and anti-inflammatory painkillers such as ibuprofen from {stop_from}."
        )
    ).to_be_visible()
    page.screenshot(path=artifacts / "portal-360-home.png", full_page=True)

    page.get_by_role("link", name="My course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My course")
    expect(page.get_by_text("Sessions done: 2 of")).to_be_visible()
    page.screenshot(path=artifacts / "portal-360-course.png", full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download the booked sessions of this course").click()
    download = info.value
    assert download.suggested_filename.endswith(".ics")
    ics = Path(download.path()).read_text()
    assert ics.startswith("BEGIN:VCALENDAR")
    assert f"UID:{calendars.uid(session)}" in ics
    assert "SUMMARY:" in ics and "Clinique des Tilleuls" in ics.replace("\r\n ", "")
    response = page.request.get(reverse("portal:course-ics", kwargs={"plan_pk": session.plan_id}))
    assert response.headers["content-type"].startswith("text/calendar")

    # The 24-hour follow-up of session 2, from the aftercare page.
    page.get_by_role("link", name="Aftercare").click()
    page.screenshot(path=artifacts / "portal-360-aftercare.png", full_page=True)
    page.goto(reverse("portal:follow-up", kwargs={"chart_pk": portal.day_old.pk}))
    expect(page.get_by_role("heading", level=1)).to_have_text("How are you after your session?")
    for group in page.get_by_role("group").all():
        legend = group.locator("legend").inner_text()
        if legend == "Any bruising?":
            group.get_by_label("A little", exact=False).check()
        elif legend.startswith("Any"):
            group.get_by_label("None", exact=True).check()
        else:
            group.get_by_label("No", exact=True).check()
    page.screenshot(path=artifacts / "portal-360-follow-up-form.png", full_page=True)
    page.get_by_role("button", name="Send my answers").click()
    # Bruising still there after a day: the clinic is told as well.
    expect(page.get_by_role("status").first).to_contain_text("Thank you")
    expect(page.locator("dl.answers")).to_contain_text("A little")
    page.screenshot(path=artifacts / "portal-360-follow-up-sent.png", full_page=True)
    follow_up = FollowUp.objects.get(chart=portal.day_old)
    assert follow_up.answers["bruising"] == 1
    assert follow_up.answers["swelling"] == 0

    # A side effect, with a photo.
    page.get_by_role("link", name="Noticed something new since? Report a side effect").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a side effect")
    page.get_by_role("group", name="What have you noticed?").get_by_label("Swelling").check()
    areas = page.get_by_role("group", name="Where is it?")
    areas.get_by_role("radio").first.check()
    page.get_by_label("When did it start?").fill(timezone.localdate().isoformat())
    page.get_by_role("group", name="How much does it bother you?").get_by_label(
        "A little", exact=False
    ).check()
    page.get_by_label("A photo (if you can)").set_input_files(
        files=[{"name": "swelling.jpg", "mimeType": "image/jpeg", "buffer": jpeg(1, (640, 480))}]
    )
    page.screenshot(path=artifacts / "portal-360-report-form.png", full_page=True)
    page.get_by_role("button", name="Send my report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your report")
    expect(page.locator("dl.answers")).to_contain_text("Swelling")
    expect(page.locator("figure.event-photo img")).to_be_visible()
    page.screenshot(path=artifacts / "portal-360-report-sent.png", full_page=True)
    sent = re.search(r"/aftercare/reports/(\d+)/$", page.url)
    assert sent, page.url
    event = AdverseEvent.objects.get(pk=int(sent.group(1)))
    assert (event.chart, event.reporter) == (portal.day_old, Reporter.PATIENT)
    assert event.side_effect is not None and event.side_effect.code == "swelling"
    assert Flag.objects.filter(kind=FlagKind.PATIENT_REPORT, adverse_event=event).count() == 1
    assert EventPhoto.objects.filter(event=event).count() == 1


def checked(page: Page, url: str, name: str, artifacts: Path, weights: dict[str, int]) -> None:
    """Load ``url`` and check it: no axe-core violation, no horizontal scroll, at most
    MAX_PAGE_BYTES of everything but images; a screenshot of it in artifacts/."""
    page.goto(url, wait_until="networkidle")
    # The browser's own count of decoded bytes: the page and what it loaded, but images.
    sizes: dict[str, int] = page.evaluate(
        """() => Object.fromEntries(
            [...performance.getEntriesByType("navigation"),
             ...performance.getEntriesByType("resource").filter(e => e.initiatorType !== "img")]
            .map(e => [e.name, e.decodedBodySize]))"""
    )
    total = sum(sizes.values())
    assert sizes.get(page.url, 0) > 0, f"{name}: the browser measured no page at {page.url}"
    weights[name] = total
    page.screenshot(path=artifacts / f"portal-360-{name}.png", full_page=True)
    assert total <= MAX_PAGE_BYTES, f"{name} weighs {total} bytes: {sizes}"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways: {width} px wide"
    found = violations(page)
    assert not found, f"{name} ({url}):\n{describe(found)}"


def test_every_portal_page_is_accessible_narrow_and_light(
    phone_page: Page,
    signed_rows_removed: None,
    artifacts: Path,
    settings: Any,
    tmp_path: Path,
) -> None:
    page = phone_page
    portal = a_patient_in_the_portal(settings, tmp_path)
    weights: dict[str, int] = {}

    # Signed out.
    checked(page, reverse("portal:login"), "login", artifacts, weights)
    checked(page, reverse("portal:login-code"), "login-code", artifacts, weights)
    checked(
        page,
        reverse("portal:invitation", kwargs={"token": portal.invitation_token}),
        "invitation",
        artifacts,
        weights,
    )

    sign_in(page, portal.patient)
    session = {"appointment_pk": portal.next_session.pk}
    learn_code = (
        PatientInformationPage.objects.filter(retired=False, language="en")
        .order_by("position", "code")
        .values_list("code", flat=True)
        .first()
    )
    assert learn_code
    pages = {
        "home": reverse("portal:home"),
        "course": reverse("portal:course"),
        "move": reverse("portal:appointment-move", kwargs=session),
        "cancel": reverse("portal:appointment-cancel", kwargs=session),
        "check-in": reverse("portal:check-in", kwargs=session),
        "consents": reverse("portal:consents"),
        "consent": reverse("portal:consent", kwargs={"document_pk": portal.consent_document_pk}),
        "aftercare": reverse("portal:aftercare"),
        "follow-up": reverse("portal:follow-up", kwargs={"chart_pk": portal.day_old.pk}),
        "report": reverse("portal:report", kwargs={"chart_pk": portal.day_old.pk}),
        "results": reverse("portal:results"),
        "learn": reverse("portal:learn"),
        "learn-page": reverse("portal:learn-page", kwargs={"code": learn_code}),
        "account": reverse("portal:account"),
        "access-log": reverse("portal:access-log"),
    }
    for name, url in pages.items():
        checked(page, url, name, artifacts, weights)
    assert ChartPhoto.objects.filter(chart=portal.photographed).count() == 2
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    # In French: the page says so (lang), and axe checks it again.
    # Signing in set the language cookie to hers; without it, her preference decides.
    Patient.objects.filter(pk=portal.patient.pk).update(preferred_language="fr")
    page.context.clear_cookies(name=settings.LANGUAGE_COOKIE_NAME)
    for name in ("home", "follow-up"):
        checked(page, pages[name], f"{name}-fr", artifacts, weights)
        expect(page.locator("html")).to_have_attribute("lang", "fr")

    heaviest = max(weights, key=weights.__getitem__)
    print(f"page weights (bytes, images apart): {weights}; heaviest {heaviest}")
