"""The research export's page and download: who may, what each one gets, the audit trail;
and that the researcher, who may download it, can open no patient."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from ninja.utils import normalize_path

from mesoclinic.api.api import api
from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, Role, User
from mesoclinic.clinics.permissions import ROLE_PERMISSIONS, Perm
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.models import CoursePlan
from mesoclinic.evidence import research_export as rx
from mesoclinic.evidence.tests.test_research_export import (
    Planted,
    every_text,
    identifiers,
    plant_registry,
    tables_of,
)
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient

ClientFor = Callable[[User], Client]
PAGE = reverse("evidence:export")
DOWNLOAD = reverse("evidence:export-download")
RESEARCHER_PERMS = ROLE_PERMISSIONS[Role.RESEARCHER]
PATIENT_PERMS = {perm for perm in Perm if perm.value.startswith("patient.")}


@pytest.fixture
def planted(
    catalogue: None,
    clinic_a: Clinic,
    clinic_b: Clinic,
    alice: User,
    pat: User,
    asha: User,
    bob: User,
) -> Planted:
    return plant_registry(clinic_a, alice, pat, asha, bob)


def exports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.EXPORT).order_by("clinic_id"))


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rhea", "alice"])
def test_the_page_shows_the_dictionary_and_the_download_button(
    request: pytest.FixtureRequest, client_for: ClientFor, name: str
) -> None:
    response = client_for(request.getfixturevalue(name)).get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    for spec in rx.dictionary():
        assert f'id="table-{spec.name}"' in html
        for column in spec.columns:
            assert f"<code>{column.name}</code>" in html
    assert f'action="{DOWNLOAD}"' in html
    assert 'method="post"' in html
    assert f"fewer than {rx.K_ANONYMITY} patients" in html
    assert "cannot prove" in html  # the honesty note of every evidence page
    assert not exports()  # looking at the page exports nothing


@pytest.mark.parametrize("name", ["pat", "asha", "bob"])
def test_a_role_without_research_view_is_refused_page_and_download(
    request: pytest.FixtureRequest, client_for: ClientFor, name: str
) -> None:
    client = client_for(request.getfixturevalue(name))

    assert client.get(PAGE).status_code == 403
    assert client.post(DOWNLOAD).status_code == 403
    assert not exports()


def test_an_anonymous_visitor_is_sent_to_sign_in(db: None, client: Client) -> None:
    for response in (client.get(PAGE), client.post(DOWNLOAD)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not exports()


def test_the_download_answers_post_only(client_for: ClientFor, rhea: User) -> None:
    assert client_for(rhea).get(DOWNLOAD).status_code == 405
    assert not exports()


# --- the download -----------------------------------------------------------------------------


def test_a_registry_researcher_exports_every_clinic_and_it_is_audited_per_clinic(
    client_for: ClientFor, rhea: User, planted: Planted
) -> None:
    response = client_for(rhea).post(DOWNLOAD)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "private, no-store"
    assert re.match(
        r'attachment; filename="mesoclinic-research-\d{4}-\d{2}-\d{2}\.zip"',
        response["Content-Disposition"],
    )
    content = response.content
    counts = {name: len(rows) for name, rows in tables_of(content).items()}
    assert counts == {"courses": 8, "sessions": 2, "measurements": 2, "adverse_events": 3}
    text = every_text(content).casefold()
    assert [value for value in identifiers(planted) if value.casefold() in text] == []
    events = exports()
    assert [event.clinic_id for event in events] == sorted(
        Clinic.objects.values_list("pk", flat=True)
    )
    for event in events:
        assert event.actor == rhea
        assert event.patient_id is None
        assert event.detail == {
            "kind": "research",
            "clinics": 2,
            "rows": counts,
            "sha256": hashlib.sha256(content).hexdigest(),
        }


def test_a_clinic_admin_exports_only_their_clinic(
    client_for: ClientFor, alice: User, planted: Planted
) -> None:
    response = client_for(alice).post(DOWNLOAD)

    tables = tables_of(response.content)
    assert len(tables["courses"]) == CoursePlan.objects.filter(clinic=alice.clinic).count()
    # Clinic B's one course is the only alopecia course of the registry.
    assert "alopecia" not in {row["indication"] for row in tables["courses"]}
    assert [event.clinic_id for event in exports()] == [alice.clinic_id]


def test_a_researcher_of_one_clinic_exports_that_clinic_only(
    client_for: ClientFor, clinic_b: Clinic, planted: Planted
) -> None:
    ruth = create_user("ruth.researcher", Role.RESEARCHER, clinic_b)

    tables = tables_of(client_for(ruth).post(DOWNLOAD).content)

    assert [row["indication"] for row in tables["courses"]] == ["alopecia"]
    assert tables["sessions"] == []
    assert [event.clinic_id for event in exports()] == [clinic_b.pk]


# --- a researcher opens no patient ------------------------------------------------------------


@pytest.fixture
def patient_a(asha: User) -> Patient:
    return make_patient(asha)


def _closed_to_researchers(view: Callable[..., object]) -> bool:
    perm = getattr(view, "required_permission", None)
    return perm is not None and perm not in RESEARCHER_PERMS


def _walk(patterns: list[URLPattern | URLResolver], namespace: str = "") -> list[tuple[str, str]]:
    """(URL name, route) of every page that needs a permission researchers do not hold: the
    patient's record (patient.view) and everything of a patient (charts, courses...)."""
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            found += [
                (name, str(pattern.pattern) + route)
                for name, route in _walk(pattern.url_patterns, inner)
            ]
        elif _closed_to_researchers(pattern.callback):
            found.append(
                (":".join(filter(None, [namespace, pattern.name or ""])), str(pattern.pattern))
            )
    return found


def test_a_researcher_is_refused_the_patient_pages(
    client_for: ClientFor, rhea: User, patient_a: Patient
) -> None:
    client = client_for(rhea)
    pages = _walk(get_resolver().url_patterns)
    assert {("patients:list", "patients/"), ("patients:detail", "patients/<int:pk>/")} <= set(pages)

    for name, route in pages:
        kwargs = {kwarg: patient_a.pk for kwarg in re.findall(r"<(?:\w+:)?(\w+)>", route)}
        url = reverse(name, kwargs=kwargs)
        for response in (client.get(url), client.post(url, {})):
            assert response.status_code in (403, 405), f"{url}: {response.status_code}"
    assert b"Rousseau" not in client.get(reverse("patients:detail", args=[patient_a.pk])).content
    assert not AuditEvent.objects.filter(patient_id=patient_a.pk, actor=rhea).exists()


def test_a_researcher_is_refused_the_patient_api(
    client_for: ClientFor, rhea: User, patient_a: Patient
) -> None:
    """Every read of the patient API. (The other operations researchers lack are refused
    too, by tests/test_access.py, which gives each the body it needs.)"""
    client = client_for(rhea)
    paths = []
    for router in api._get_bound_routers():
        for path, path_view in router.path_operations.items():
            route = normalize_path("/".join(part for part in (router.prefix, path) if part))
            for operation in path_view.operations:
                perm = getattr(operation.view_func, "required_permission", None)
                if perm in PATIENT_PERMS and "GET" in operation.methods:
                    paths.append(re.sub(r"\{(?:\w+:)?\w+\}", str(patient_a.pk), route))
    assert {"/patients/", f"/patients/{patient_a.pk}"} <= set(paths)

    for path in paths:
        response = client.get(f"/api/v1{path}")
        assert response.status_code in (403, 404), f"{path}: {response.status_code}"
        assert b"Rousseau" not in response.content
