"""Property-based tests of the API against its own OpenAPI description, with schemathesis.

The schema is the one the application serves at /api/v1/openapi.json, loaded through the WSGI
application in-process. For every operation, schemathesis generates requests (valid and
invalid) and sends them as alice, the administrator of clinic A, with an API token, into a
database holding the catalogue, a few of her patients with medications, allergies and
conditions, a licence of each clinic, spare API tokens, and a patient of clinic B; in each
clinic a room and a course plan with an attended and a booked session, and its consent
documents (one signed, one draft); and a second course plan in each clinic, with a formula and
a session that has just begun, charted: in clinic A a signed chart and a draft, in clinic B a
draft. Every response must:

- not be a server error (5xx);
- have a status code the schema documents for the operation;
- have a body conforming to the documented schema, with the documented content type;
- and reject invalid input (a request that breaks the schema must not succeed).

Generation is derandomized and bounded so that a run is reproducible and short in CI. Path
parameters are usually replaced by the id of a real row (one of alice's patients or licences,
or one of clinic B, which must be 404), so reads and writes reach real records, not only ids
that do not exist.

A second test calls every operation anonymously: the schema must declare security for it and
document the 401 it answers with.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from mesoclinic.catalogue.models import BodyArea, Indication, IngredientClass, Protocol
from mesoclinic.charts import services as charts
from mesoclinic.charts.testing import ready_session, simple_draft
from mesoclinic.clinics import tokens
from mesoclinic.clinics.models import Clinic, Licence, Role, User
from mesoclinic.clinics.testing import PASSWORD, create_user
from mesoclinic.consent.testing import plan_consents
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import CoursePlan, Room
from mesoclinic.courses.testing import make_bookable
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Formula, Lot, Presentation
from mesoclinic.patients import services
from mesoclinic.patients.models import ConditionKind, Patient, Sex
from mesoclinic.reminders.testing import failed_reminder

API_SCHEMA_PATH = "/api/v1/openapi.json"
MAX_EXAMPLES = 25

# Built at import, before the suite collects static files into a directory of its own, so
# WhiteNoise's warning that the configured directory does not exist yet is expected here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    app = get_wsgi_application()
# Reading the schema touches no database: it is served to anonymous callers.
schema = schemathesis.openapi.from_wsgi(API_SCHEMA_PATH, app)

CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
CHECKS = [not_a_server_error, *CONFORMANCE, negative_data_rejection]


@dataclass(frozen=True)
class World:
    """The rows path parameters may point at, and alice's credentials."""

    headers: dict[str, str]
    auth_token_id: int
    ids: dict[str, list[int]]  # path parameter or body field -> real ids to choose from


def _patient(clinic: Clinic, actor: User, given: str, family: str, born: date) -> Patient:
    patient = Patient(
        clinic=clinic, given_name=given, family_name=family, date_of_birth=born, sex=Sex.FEMALE
    )
    patient.full_clean()
    return services.save_patient(patient, actor=actor, request=None)


def _formulary(clinic: Clinic, actor: User, patient: Patient) -> dict[str, int]:
    """A clinic ingredient, a product of it, an active lot and a recalled one (with its recall
    contact), both given to the patient in version 1 of a formula."""
    ingredient = formulas.add_ingredient(
        clinic=clinic,
        name=f"House blend {clinic.slug}",
        ingredient_class=IngredientClass.objects.get(code="other"),
        actor=actor,
    )
    product = formulas.create_product(
        clinic=clinic,
        name="Blend 1 %",
        manufacturer="Laboratoires Exemple",
        presentation=Presentation.VIAL,
        volume_ml=Decimal(5),
        contents=[formulas.Content(ingredient, Decimal(1), "%")],
        actor=actor,
    )
    lot, recalled = (
        formulas.receive_lot(
            product=product,
            lot_number=number,
            expiry_date=date(2099, 12, 31),
            received_on=date(2020, 1, 1),
            received_quantity=50,
            actor=actor,
        )
        for number in ("A-1", "R-1")
    )
    formula = formulas.create_formula(
        clinic=clinic,
        name="Blend",
        author=actor,
        components=[formulas.ComponentSpec(product=product, volume_ml=Decimal(2))],
        total_volume_ml=Decimal(4),
        actor=actor,
    )
    for used in (lot, recalled):
        formulas.record_lot_use(
            used,
            patient,
            Decimal(1),
            timezone.now(),
            actor,
            formula_version=formula.current_version,
        )
    formulas.recall_lot(recalled, "Manufacturer recall.", actor)
    return {
        "ingredient_id": ingredient.pk,
        "product_id": product.pk,
        "lot_id": lot.pk,
        "recalled_lot_id": recalled.pk,
        "formula_id": formula.pk,
        "contact_id": formulas.recall_contacts(recalled).get().pk,
    }


def _schedule(practitioner: User, verifier: User, patient: Patient) -> dict[str, int]:
    """A bookable practitioner, a room and a course plan whose first session was attended and
    second is booked, and an appointment outside the course."""
    make_bookable(practitioner, verifier)
    room = Room.objects.create(clinic=patient.clinic, name="Room 1")
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="cellulite"),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        actor=practitioner,
    )
    tz = patient.clinic.tz
    sessions = [
        booking.book(
            patient=patient,
            practitioner=practitioner,
            starts_at=datetime.combine(day, time(10), tzinfo=tz),
            minutes=plan.session_minutes,
            room=room,
            plan=plan,
            session_number=number,
            actor=practitioner,
        )
        for number, day in ((1, date(2026, 1, 5)), (2, date(2026, 1, 19)))
    ]
    booking.record_attended(sessions[0], practitioner)
    other = booking.book(
        patient=patient,
        practitioner=practitioner,
        starts_at=datetime.combine(date(2026, 1, 6), time(11), tzinfo=tz),
        minutes=30,
        actor=practitioner,
    )
    return {
        "plan_id": plan.pk,
        "appointment_id": other.pk,
        "session_id": sessions[1].pk,
        "room_id": room.pk,
    }


def _charts(practitioner: User, patient: Patient, formula_id: int, lot_id: int) -> list[int]:
    """A face course with the formula, whose session 1 (begun 20 minutes ago) is charted and
    signed and session 2 (an hour earlier) charted as a draft, made as the practitioner."""
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="wrinkles-and-lines"),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        areas=BodyArea.objects.filter(code="forehead"),
        formula_version=Formula.objects.get(pk=formula_id).current_version,
        actor=practitioner,
    )
    signed, draft = (
        charts.start_chart(ready_session(plan, practitioner, session_number=n), practitioner)
        for n in (1, 2)
    )
    lot = Lot.objects.get(pk=lot_id)
    for chart in (signed, draft):
        charts.save_draft(chart, simple_draft(chart, lot, volume="1.00"), practitioner)
    charts.sign(signed, practitioner, PASSWORD)
    return [draft.pk, signed.pk]


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    """The WSGI handler closes the database connection at the end of each request, which on
    PostgreSQL would end the transaction the test runs in; Django's own test client keeps it
    open the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """The named users are built for every operation, and Argon2 takes half a second each:
    no test here signs in with a password."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(
    catalogue: None, clinic_a: Clinic, clinic_b: Clinic, alice: User, pat: User, bob: User
) -> World:
    patients = [
        _patient(clinic_a, alice, "Camille", "Durand", date(1984, 3, 14)),
        _patient(clinic_a, alice, "Léa", "Martin", date(1991, 11, 2)),
        _patient(clinic_a, alice, "Inès", "Bernard", date(1975, 6, 30)),
    ]
    first = patients[0]
    services.add_medication(
        first, name="aspirin", dose="75 mg", started=date(2024, 1, 1), actor=alice, request=None
    )
    services.add_medication(first, name="an unknown remedy", actor=alice, request=None)
    services.add_allergy(first, substance="lidocaine", reaction="rash", actor=alice, request=None)
    services.add_condition(
        first, kind=ConditionKind.choices[0][0], description="keloid", actor=alice, request=None
    )
    other_clinic = _patient(clinic_b, bob, "Olivia", "Hughes", date(1988, 1, 5))
    licence = Licence.objects.create(
        practitioner=pat,
        number="RPPS-10001",
        issuing_body="Ordre des médecins",
        jurisdiction="France",
        valid_from=date(2020, 1, 1),
    )
    bea = create_user("bea.practitioner", Role.PRACTITIONER, clinic_b)
    other_licence = Licence.objects.create(
        practitioner=bea,
        number="GMC-20002",
        issuing_body="General Medical Council",
        jurisdiction="United Kingdom",
        valid_from=date(2020, 1, 1),
    )
    own, others = _formulary(clinic_a, alice, first), _formulary(clinic_b, bob, other_clinic)
    own_schedule, other_schedule = _schedule(pat, alice, first), _schedule(bea, bob, other_clinic)
    # A signed consent and a draft of each clinic's course plan.
    own_consents, other_consents = (
        plan_consents(CoursePlan.objects.get(pk=schedule["plan_id"]), witness)
        for schedule, witness in ((own_schedule, pat), (other_schedule, bea))
    )
    own_charts = _charts(pat, patients[1], own["formula_id"], own["lot_id"])
    other_charts = _charts(bea, other_clinic, others["formula_id"], others["lot_id"])
    auth_token, key = tokens.create_token(alice, "schemathesis")
    spare_token, _ = tokens.create_token(alice, "spare")
    bobs_token, _ = tokens.create_token(bob, "bob's")
    return World(
        headers={"Authorization": f"Bearer {key}"},
        auth_token_id=auth_token.pk,
        ids={
            "patient_id": [p.pk for p in patients] + [other_clinic.pk],
            "licence_id": [licence.pk, other_licence.pk],
            "practitioner_id": [pat.pk, bea.pk],
            "token_id": [spare_token.pk, bobs_token.pk],
            "ingredient_id": [own["ingredient_id"], others["ingredient_id"]],
            "product_id": [own["product_id"], others["product_id"]],
            "lot_id": [own[name] for name in ("lot_id", "recalled_lot_id")] + [others["lot_id"]],
            "formula_id": [own["formula_id"], others["formula_id"]],
            "contact_id": [own["contact_id"], others["contact_id"]],
            "version_number": [1, 2],
            "plan_id": [own_schedule["plan_id"], other_schedule["plan_id"]],
            "appointment_id": [own_schedule[name] for name in ("appointment_id", "session_id")]
            + [other_schedule["appointment_id"]],
            "room_id": [own_schedule["room_id"], other_schedule["room_id"]],
            "document_id": [
                own_consents.draft.pk,
                own_consents.signed.pk,
                other_consents.draft.pk,
            ],
            "reminder_id": [failed_reminder(pat).pk, failed_reminder(bea).pk],
            "chart_id": [*own_charts, other_charts[0]],
            "copy_from_id": [own_charts[1], other_charts[1]],
        },
    )


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case, data: st.DataObject, world: World
) -> None:
    for location, values in (
        (ParameterLocation.PATH, case.path_parameters),
        (ParameterLocation.BODY, case.body),
    ):
        component = case.meta.components.get(location) if case.meta else None
        if component is not None and component.mode.is_negative:
            continue  # an invalid id or body is left for the API to refuse
        for name, ids in world.ids.items():
            if isinstance(values, dict) and name in values:
                # Mostly a real row (alice's, or another clinic's: 404); else the generated id.
                choice = data.draw(st.sampled_from([*ids, None]), label=name)
                if choice is not None:
                    values[name] = choice
    # Revoking the token the test signs in with would turn every later request into a 401.
    if (case.path_parameters or {}).get("token_id") == world.auth_token_id:
        case.path_parameters["token_id"] = world.ids["token_id"][0]
    # A case whose invalid part is its credentials is sent with them, to be refused.
    headers = None if schema.is_security_param_negated(case) else world.headers
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_every_operation_requires_authentication(db: None) -> None:
    """Each operation declares security and documents 401, and an anonymous call is refused
    with that documented 401 before any lookup or validation: no body is sent, and the path
    ids need not exist."""
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert operations
    for operation in operations:
        assert operation.definition.raw.get("security"), f"{operation.label} declares no security"
        ids = {parameter.name: 1 for parameter in operation.path_parameters}
        case = operation.Case(path_parameters=ids)
        response = case.call()
        assert response.status_code == 401, f"{operation.label}: {response.status_code}"
        assert response.json() == {"detail": "Unauthorized"}, operation.label
        case.validate_response(response, checks=CONFORMANCE)
