"""Who may open the portal's pages: every portal URL, enumerated, so that a page added later
is checked without anyone remembering to add it here.

A patient's page is one whose view ``@patient_view`` marks (``portal_view``). For each one,
by GET and by POST: an anonymous visitor is sent to the portal's sign-in; clinic staff and a
researcher are refused (403); a patient whose record was erased is refused, one whose account
was deactivated is signed out; and another patient of the same clinic gets 404 for any URL
naming the first patient's objects, with nothing changed in the database, and on the pages
naming nothing sees nothing of the first patient. The control: the first patient opens their
own objects.

The public pages (signing in, the invitation link) open without signing in and show nobody's
record. Every portal URL is one of the two kinds, or a staff page with a permission.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, models, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from mesoclinic.catalogue.models import BodyArea, PatientInformationPage
from mesoclinic.charts import photos
from mesoclinic.charts import services as charts
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import AuditEvent, Clinic, Role, User
from mesoclinic.clinics.testing import create_user, sign_in
from mesoclinic.consent.testing import plan_consents
from mesoclinic.courses import booking
from mesoclinic.courses.testing import make_bookable
from mesoclinic.followup import services as followup
from mesoclinic.followup.models import EventPhoto, Reporter
from mesoclinic.followup.testing import signed_chart
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import erase_patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.portal.invitations import invite
from mesoclinic.portal.testing import portal_user
from mesoclinic.screening.tests.conftest import compounded, make_plan

# A portal URL's keyword argument -> which object of the world it names (the brief's names).
KWARG_OBJECTS = {
    "appointment_pk": "appointment",
    "plan_pk": "plan",
    "chart_pk": "chart",
    "document_pk": "document",
    "photo_pk": "photo",
    "event_pk": "event",
    "event_photo_pk": "event-photo",
    "code": "code",
    "token": "token",
}
# The same for every patient: naming one proves nothing about whose record is open.
SHARED_KWARGS = {"code"}
# Open to anyone: signing in and out, and the invitation link (its token is the credential).
PUBLIC_VIEWS = {
    "portal:login",
    "portal:login-code",
    "portal:login-code-verify",
    "portal:logout",
    "portal:invitation",
}
NAMESPACE = "portal"
THIS_FILE = "mesoclinic/portal/tests/test_access.py"


# --- Enumeration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "portal:name"
    kwargs: tuple[str, ...]
    callback: Callable[..., Any]

    @property
    def for_patients(self) -> bool:
        return bool(getattr(self.callback, "portal_view", False))

    @property
    def names_patients_object(self) -> bool:
        return any(kwarg not in SHARED_KWARGS for kwarg in self.kwargs)

    def url(self, objects: dict[str, Any]) -> str:
        values = {}
        for kwarg in self.kwargs:
            if kwarg not in KWARG_OBJECTS:
                pytest.fail(
                    f"{self.name}: its URL argument {kwarg!r} names no object the portal's "
                    f"access test knows: add a mapping to KWARG_OBJECTS in {THIS_FILE} (and "
                    "an object of that kind to the world it builds), or use one of the "
                    f"brief's names: {', '.join(sorted(KWARG_OBJECTS))}"
                )
            values[kwarg] = objects[KWARG_OBJECTS[kwarg]]
        return reverse(self.name, kwargs=values)

    def __str__(self) -> str:
        return self.name


def _walk(
    patterns: list[URLPattern | URLResolver], namespace: str = "", prefix: str = ""
) -> Iterator[Route]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            yield from _walk(pattern.url_patterns, inner, route)
        else:
            name = ":".join(filter(None, [namespace, pattern.name or ""]))
            kwargs = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))
            yield Route(name, kwargs, pattern.callback)


ALL_ROUTES = list(_walk(get_resolver().url_patterns))
PORTAL_ROUTES = [route for route in ALL_ROUTES if route.name.startswith(f"{NAMESPACE}:")]
PATIENT_ROUTES = [route for route in ALL_ROUTES if route.for_patients]
PUBLIC_ROUTES = [route for route in PORTAL_ROUTES if route.name in PUBLIC_VIEWS]
OWNED_ROUTES = [route for route in PATIENT_ROUTES if route.names_patients_object]
UNNAMED_ROUTES = [route for route in PATIENT_ROUTES if not route.names_patients_object]


def test_the_enumeration_finds_the_portal() -> None:
    assert {"portal:account", "portal:access-log"} <= {route.name for route in PATIENT_ROUTES}
    assert {route.name for route in PUBLIC_ROUTES} == PUBLIC_VIEWS


@pytest.mark.parametrize("route", PORTAL_ROUTES, ids=str)
def test_every_portal_url_is_a_patients_page_a_public_one_or_a_staff_page(route: Route) -> None:
    assert (
        route.for_patients
        or route.name in PUBLIC_VIEWS
        or getattr(route.callback, "required_permission", None) is not None
    ), (
        f"{route.name}: wrap the view with @patient_view (mesoclinic/portal/access.py), or "
        "give a staff page @requires(Perm.X)"
    )


@pytest.mark.parametrize("route", PATIENT_ROUTES + PUBLIC_ROUTES, ids=str)
def test_every_url_argument_names_a_known_kind_of_object(route: Route) -> None:
    for kwarg in route.kwargs:
        assert kwarg in KWARG_OBJECTS, (
            f"{route.name}: add a mapping for its URL argument {kwarg!r} to KWARG_OBJECTS "
            f"in {THIS_FILE} (and an object of that kind to the world it builds)"
        )


# --- The world: people, patients and one object of each kind, made once ---------------------


@dataclass(frozen=True)
class World:
    people: dict[str, int]  # name -> user pk
    patients: dict[str, int]  # name -> patient pk
    objects: dict[str, Any]  # KWARG_OBJECTS' values -> pk or code or token, all the patient's


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Made once for the module, in a transaction rolled back after its last test, as
    tests/test_access.py does: each test runs in a savepoint of its own inside it."""
    media = tmp_path_factory.mktemp("portal-access-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # people, not strong hashes
    with override_settings(PASSWORD_HASHERS=hashers, MEDIA_ROOT=media):
        outer = transaction.atomic()
        outer._from_testcase = True  # type: ignore[attr-defined]
        with django_db_blocker.unblock():
            outer.__enter__()
            try:
                built = _build_world(media)
            except BaseException:
                outer.__exit__(*sys.exc_info())
                raise
        try:
            yield built
        finally:
            with django_db_blocker.unblock():
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)


def _jpeg() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (32, 24), (224, 190, 170)).save(image, "JPEG")
    return image.getvalue()


def _build_world(media: Path) -> World:
    call_command("load_catalogue", verbosity=0)
    clinic_a = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="a", time_zone="Europe/Paris"
    )
    clinic_b = Clinic.objects.create(
        name="Harbour Skin Clinic", slug="b", time_zone="Europe/London"
    )
    alice = create_user("alice.admin", Role.ADMIN, clinic_a)
    pat = create_user("pat.practitioner", Role.PRACTITIONER, clinic_a)
    asha = create_user("asha.assistant", Role.ASSISTANT, clinic_a)
    rhea = create_user("rhea.researcher", Role.RESEARCHER, None)
    bob = create_user("bob.practitioner", Role.PRACTITIONER, clinic_b)
    patients = {
        "patient": make_patient(asha),  # Camille Rousseau, as the portal's conftest has her
        "other": make_patient(
            asha, given_name="Noor", family_name="Haddad", email="noor@example.org", phone=""
        ),
        "erased": make_patient(
            asha, given_name="Eli", family_name="Stone", email="eli@example.org"
        ),
        "inactive": make_patient(
            asha, given_name="Ines", family_name="Morel", email="ines@example.org"
        ),
        "invited": make_patient(
            asha, given_name="Iris", family_name="Blanc", email="iris@example.org"
        ),
    }
    accounts = {
        name: portal_user(patients[name]) for name in ("patient", "other", "erased", "inactive")
    }
    erase_patient(patients["erased"], actor=alice, reason="Asked to be forgotten.")
    User.objects.filter(pk=accounts["inactive"].pk).update(is_active=False)
    objects = _patients_objects(patients["patient"], pat, asha, alice)
    invite(patients["invited"], asha)
    objects["token"] = re.search(r"/invitation/([\w-]+)/", str(mail.outbox[-1].body)).group(1)  # type: ignore[union-attr]
    people = {
        "alice": alice,
        "pat": pat,
        "asha": asha,
        "rhea": rhea,
        "bob": bob,
        **{f"{name}-user": user for name, user in accounts.items()},
    }
    return World(
        people={name: user.pk for name, user in people.items()},
        patients={name: patient.pk for name, patient in patients.items()},
        objects=objects,
    )


def _patients_objects(patient: Patient, pat: User, asha: User, alice: User) -> dict[str, Any]:
    """The face course of the follow-up tests (pat injecting): session 1 signed 5 minutes
    ago with a side effect reported and its photo, session 2 signed with a photo, session 3
    booked five weeks ahead, the consent's signed and draft versions."""
    clinic = patient.clinic
    make_bookable(pat, alice)
    version = compounded(pat, "Glow 1", ("Hyaluronic acid", "0.5"), ("Biotin", "0.5"))
    plan = make_plan(patient, pat, "wrinkles-and-lines", ["forehead", "cheeks"], version)
    lot = stock_lot(clinic, pat)
    chart = signed_chart(plan, asha, lot)
    pictured = charts.start_chart(ready_session(plan, asha, session_number=2), pat)
    charts.save_draft(pictured, simple_draft(pictured, lot), pat)
    photo = photos.add_photo(
        pictured,
        upload=SimpleUploadedFile("p.jpg", _jpeg(), content_type="image/jpeg"),
        moment="before",
        body_area=BodyArea.objects.get(code="forehead"),
        view="front",
        actor=asha,
    )
    charts.sign_as(pictured, pat)
    consents = plan_consents(plan, pat)
    day = clinic.today() + timedelta(days=35)
    day += timedelta(days=(-day.weekday()) % 7)  # a Monday
    appointment = booking.book(
        patient=patient,
        practitioner=pat,
        starts_at=datetime.combine(day, time(10), tzinfo=clinic.tz),
        minutes=30,
        actor=asha,
        plan=plan,
        session_number=3,
    )
    event = followup.report_event(
        chart,
        followup.EventSpec(onset_on=followup.session_day(chart), grade=1, side_effect="bruising"),
        # Reported by the patient: the portal shows a patient only their own reports.
        patient.portal_account.user,
        Reporter.PATIENT,
    )
    data = _jpeg()
    event_photo = EventPhoto(
        event=event, width=32, height=24, sha256=hashlib.sha256(data).hexdigest(), uploaded_by=asha
    )
    event_photo.image.save("photo.jpg", ContentFile(data), save=True)
    page = PatientInformationPage.objects.order_by("position").first()
    assert page is not None
    return {
        "appointment": appointment.pk,
        "plan": plan.pk,
        "chart": chart.pk,
        "document": consents.draft.pk,
        "photo": photo.pk,
        "event": event.pk,
        "event-photo": event_photo.pk,
        "code": page.code,
    }


@pytest.fixture
def objects(db: None, world: World) -> dict[str, Any]:
    return dict(world.objects)


@pytest.fixture
def patient(db: None, world: World) -> Patient:
    return Patient.objects.get(pk=world.patients["patient"])


def client_of(world: World, who: str) -> Client:
    """A client signed in as ``who`` (staff with their second factor), or anonymous."""
    client = Client()
    if who == "anonymous":
        return client
    user = User.objects.get(pk=world.people[who])
    if user.role in (Role.ADMIN, Role.PRACTITIONER, Role.ASSISTANT):
        return sign_in(client, user)
    client.force_login(user)
    return client


# --- Requests that must change nothing ----------------------------------------------------------

SNAPSHOT_APPS = (
    "clinics",
    "patients",
    "formulas",
    "courses",
    "calendars",
    "reminders",
    "consent",
    "screening",
    "charts",
    "followup",
    "outcomes",
    "portal",
)


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a portal page could change, read with SQL as stored. Audit
    events are left out: recording a read or a refusal is allowed."""
    kinds: list[type[models.Model]] = [TOTPDevice, EmailDevice]
    for label in SNAPSHOT_APPS:
        kinds += apps.get_app_config(label).get_models(include_auto_created=True)
    quote = connection.ops.quote_name
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for model in kinds:
            if model is AuditEvent:
                continue
            table, key = model._meta.db_table, model._meta.pk.column
            assert key is not None
            cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {quote(key)}")  # noqa: S608 (model names)
            tables[table] = list(cursor.fetchall())
    return tables


def body_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        content = response.content
    return content.decode(errors="replace") + response.get("Location", "")


def assert_shows_nothing_of(response: Any, patient: Patient, what: str) -> None:
    body = body_of(response)
    for identity in (patient.given_name, patient.family_name, patient.email):
        assert identity not in body, f"{what} shows {identity!r}, another patient's"


def send(client: Client, method: str, url: str) -> Any:
    return client.get(url) if method == "GET" else client.post(url, {})


def cases(routes: list[Route], *names: str) -> list[Any]:
    return [
        pytest.param(route, name, id=f"{route.name}-{name}") for route in routes for name in names
    ]


# --- Patients' pages --------------------------------------------------------------------------


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=str)
def test_an_anonymous_visitor_is_sent_to_the_portals_sign_in(
    world: World, objects: dict[str, Any], route: Route
) -> None:
    url = route.url(objects)
    client = client_of(world, "anonymous")
    before = snapshot()
    answered = []
    for method in ("GET", "POST"):
        response = send(client, method, url)
        answered.append(response.status_code)
        # 405: a page that does not take the method turns it away before anything else.
        if response.status_code != 405:
            assert response.status_code == 302, f"{method} {url} answered {response.status_code}"
            assert response["Location"].startswith(f"{reverse('portal:login')}?next="), (
                f"{method} {url} went to {response['Location']}"
            )
    assert answered != [405, 405], f"{url} takes neither GET nor POST"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("route", "who"),
    cases(PATIENT_ROUTES, "pat", "asha", "rhea", "erased-user", "inactive-user"),
)
def test_staff_researchers_and_closed_accounts_are_refused(
    world: World, objects: dict[str, Any], route: Route, who: str
) -> None:
    """Staff and researchers: 403. A patient whose account was deactivated, or whose record
    was erased (which closes the account): signed out, so sent to sign in."""
    url = route.url(objects)
    client = client_of(world, who)
    before = snapshot()
    for method in ("GET", "POST"):
        response = send(client, method, url)
        if who in ("inactive-user", "erased-user") and response.status_code == 302:
            assert response["Location"].startswith(reverse("portal:login")), response["Location"]
        else:
            assert response.status_code in (403, 405), (
                f"{who}: {method} {url} answered {response.status_code}"
            )
    assert snapshot() == before


@pytest.mark.parametrize("route", OWNED_ROUTES, ids=str)
def test_another_patient_never_reaches_the_patients_objects(
    world: World, objects: dict[str, Any], route: Route
) -> None:
    url = route.url(objects)
    client = client_of(world, "other-user")
    before = snapshot()
    for method in ("GET", "POST"):
        response = send(client, method, url)
        assert response.status_code in (404, 405), (
            f"another patient: {method} {url} answered {response.status_code}"
        )
    assert snapshot() == before


@pytest.mark.parametrize("route", OWNED_ROUTES, ids=str)
def test_the_patient_opens_their_own_objects(
    world: World, objects: dict[str, Any], route: Route
) -> None:
    """The control: the 404s above come from whose objects they are, not from a URL that
    names nothing."""
    url = route.url(objects)
    client = client_of(world, "patient-user")
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    assert response.status_code not in (403, 404), (
        f"the patient: {response.request['REQUEST_METHOD']} {url} answered {response.status_code}"
    )
    assert response.status_code < 500


@pytest.mark.parametrize("route", UNNAMED_ROUTES, ids=str)
def test_another_patient_sees_nothing_of_the_patient_on_the_other_pages(
    world: World, objects: dict[str, Any], patient: Patient, route: Route
) -> None:
    url = route.url(objects)
    client = client_of(world, "other-user")
    response = client.get(url)
    assert response.status_code in (200, 405), f"GET {url} answered {response.status_code}"
    assert_shows_nothing_of(response, patient, f"GET {url}")
    before = snapshot()
    response = client.post(url, {})
    assert response.status_code < 500, f"POST {url} answered {response.status_code}"
    assert_shows_nothing_of(response, patient, f"POST {url}")
    # Nothing was sent: whatever the page does, it does not do it on nothing.
    assert snapshot() == before, f"an empty POST to {url} changed the database"


# --- Public pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=str)
def test_the_public_pages_open_without_signing_in_and_show_no_record(
    world: World, objects: dict[str, Any], patient: Patient, route: Route
) -> None:
    view = route.callback
    assert getattr(view, "login_required", True) is False, (
        f"{route.name}: mark the view @login_not_required"
    )
    assert not route.for_patients
    url = route.url(objects)
    client = client_of(world, "anonymous")
    response = client.get(url)
    assert response.status_code in (200, 405), f"GET {url} answered {response.status_code}"
    assert_shows_nothing_of(response, patient, f"GET {url}")
    before = snapshot()
    response = client.post(url, {})
    # An empty form: its errors (400), or signing out, which needs nothing (302).
    assert response.status_code in (302, 400), f"POST {url} answered {response.status_code}"
    assert_shows_nothing_of(response, patient, f"POST {url}")
    assert snapshot() == before
