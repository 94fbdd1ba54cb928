"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright cannot download its own browser here, so the tests drive /usr/bin/chromium
(`make browser` installs it). Every page fails its test if it fetched anything from another
origin or logged a JavaScript error: a clinic's pages must work offline and leak nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    ViewportSize,
    expect,
    sync_playwright,
)
from pytest_django.live_server_helper import LiveServer

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.charts.testing import remove_all_charts
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import PASSWORD, create_user
from mesoclinic.consent.testing import remove_all_consents
from mesoclinic.courses import plans
from mesoclinic.courses.models import CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.followup.testing import remove_all_follow_ups
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Ingredient
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.outcomes.testing import remove_all_measurements
from mesoclinic.patients.models import Patient

# Playwright's sync API keeps an asyncio loop running in the main thread for as long as the
# session-scoped browser lives, and Django refuses ORM calls from a thread with a running
# loop. The tests call the ORM synchronously and never from a coroutine, so it is safe; it is
# set at import because the browser outlives the browser tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
WIDE: ViewportSize = {"width": 1440, "height": 900}


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """pytest-django's live server, with static files left to WhiteNoise as in production.

    Its own static handler serves only what the finders see, not the hashed names that the
    manifest storage writes into pages, so every stylesheet would be a 404.
    """
    server = LiveServer("localhost", start=False)
    # Typed as a handler class, but any callable that wraps the application will do.
    server.thread.static_handler = lambda app: app  # type: ignore[assignment]
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests need Chromium at {CHROMIUM}: run `make browser`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots for people to look at; ignored by git."""
    path = REPO_ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@contextmanager
def watched_page(browser: Browser, live_server: LiveServer, **options: Any) -> Iterator[Page]:
    """A page in a new context (``options`` for ``Browser.new_context``, the wide viewport by
    default) that fails its test if it fetched from another origin or the browser reported
    an error."""
    options.setdefault("viewport", WIDE)
    context = browser.new_context(base_url=live_server.url, **options)
    page = context.new_page()
    origin = urlsplit(live_server.url).netloc
    foreign: list[str] = []
    errors: list[str] = []

    def on_request(request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != origin:
            foreign.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        # A failed load is reported with its address by the response handler.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            errors.append(f"{response.status} {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not foreign, f"pages fetched from other origins: {foreign}"
    assert not errors, f"the browser reported errors: {errors}"


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    with watched_page(browser, live_server) as page:
        yield page


def sign_in_through_the_form(page: Page, user: User, start: str = "/") -> None:
    """Sign ``user`` in as a person does: ``start`` sends the anonymous visitor to the form,
    then the two-factor page asks for the code their authenticator app would show, computed
    here from a confirmed device created for them. Ends on ``start``.

    The user must have been created with ``mesoclinic.clinics.testing.PASSWORD``.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)
    # A code is accepted once; forget the last one used so that a test may sign in twice
    # within the same 30 seconds.
    device.last_t = -1
    device.save(update_fields=["last_t"])

    page.goto(start)
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/account/two-factor/"))
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_label("6-digit code").fill(f"{code:0{device.digits}d}")
    page.get_by_role("button", name="Verify").click()
    expect(page).not_to_have_url(re.compile(r"/(login|account/two-factor)/"))


@pytest.fixture
def signed_rows_removed(transactional_db: None) -> Iterator[None]:
    """Kept rows (measurements, follow-ups, signed charts, consents) refuse DELETE, which is
    how the database is emptied after a browser test on SQLite: they are removed first, the
    triggers lifted for that only."""
    yield
    remove_all_measurements()
    remove_all_follow_ups()
    remove_all_charts()
    remove_all_consents()


@dataclass(frozen=True)
class GlowCourse:
    pat: User  # practitioner, bookable
    asha: User  # assistant
    patient: Patient
    plan: CoursePlan


def glow_course(clinic: Clinic, areas: list[str]) -> GlowCourse:
    """A wrinkles course of ``areas`` for Inès Garnier, with pat (bookable practitioner),
    asha (assistant) and a hyaluronic acid formula, "Glow"."""
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
        areas=BodyArea.objects.filter(code__in=areas),
        formula_version=formula.current_version,
        actor=pat,
    )
    return GlowCourse(pat, asha, patient, plan)
