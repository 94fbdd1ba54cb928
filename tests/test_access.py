"""Who may open what: every URL of the project and every API operation, enumerated, so that a
page or operation added later is checked without anyone remembering to add it here.

For each one: it declares the permission it needs (or is one of the few public views); a
member of clinic A never reaches an object of clinic B; a role without the permission is
refused; an anonymous visitor is sent to sign in (401 from the API); and a staff member who
has not proved a second factor is sent to prove it. Every refused request changes nothing.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from ninja.utils import normalize_path
from PIL import Image

from mesoclinic.api.api import api
from mesoclinic.catalogue.models import (
    BodyArea,
    Direction,
    Indication,
    IngredientClass,
    OutcomeScale,
    Protocol,
    ScaleKind,
    ScreeningCheck,
    ScreeningRule,
    Severity,
    SideEffect,
)
from mesoclinic.charts import photos
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, simple_draft
from mesoclinic.clinics import tokens
from mesoclinic.clinics.models import AuditEvent, Clinic, Licence, Role, User
from mesoclinic.clinics.permissions import ROLE_PERMISSIONS, Perm
from mesoclinic.clinics.testing import PASSWORD, create_user, sign_in
from mesoclinic.consent.models import ConsentCode
from mesoclinic.consent.services import CODE_MINUTES
from mesoclinic.consent.testing import plan_consents
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import (
    Appointment,
    CoursePlan,
    Leave,
    MaintenanceRecall,
    Room,
    WorkingHours,
)
from mesoclinic.courses.testing import make_bookable
from mesoclinic.evidence.models import AlertContact, ExposureKind, OutbreakAlert
from mesoclinic.followup import services as followup
from mesoclinic.followup.models import FollowUpChannel, Reporter
from mesoclinic.followup.photos import add_event_photo
from mesoclinic.followup.testing import no_answers, signed_chart
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Presentation
from mesoclinic.outcomes import services as outcomes
from mesoclinic.outcomes.models import Rater
from mesoclinic.patients.models import Allergy, Condition, ConditionKind, Medication, Patient
from mesoclinic.reminders.testing import failed_reminder
from mesoclinic.screening.models import Finding

# Views anyone may open, signed in or not. Everything else must declare a permission.
# A calendar feed is read by calendar apps, which cannot sign in: the secret in its URL is
# the credential (mesoclinic/calendars/tests).
# The language switch stores a choice in a cookie and shows nothing.
PUBLIC_VIEWS = {"login", "logout", "health", "calendar-feed", "set_language"}
# The portal's sign-in pages and its invitation link (the token in the URL is the credential);
# the patients' own pages are enumerated by mesoclinic/portal/tests/test_access.py.
PUBLIC_VIEWS |= {
    "portal:login",
    "portal:login-code",
    "portal:login-code-verify",
    "portal:invitation",
    "portal:logout",
}
# The API's own pages: its description (which holds no clinic data) and its root.
PUBLIC_API_PAGES = {"api:openapi-json", "api:openapi-view", "api:api-root"}
API_NAMESPACE = "api"
API_ROOT = "/api/v1"


# --- Enumeration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern outside the API, as Django resolves it."""

    name: str  # "namespace:name"
    kwargs: tuple[str, ...]
    callback: Callable[..., Any]

    @property
    def permission(self) -> Perm | None:
        return getattr(self.callback, "required_permission", None)

    def url(self, values: dict[str, Any]) -> str:
        return reverse(self.name, kwargs={kwarg: values[kwarg] for kwarg in self.kwargs})


@dataclass(frozen=True)
class Operation:
    """One API operation: a method on a path, with its path parameters."""

    method: str
    path: str  # as ninja writes it, "/api/v1/patients/{patient_id}"
    params: tuple[str, ...]
    view_func: Callable[..., Any]
    body_models: tuple[type[Any], ...]

    @property
    def permission(self) -> Perm | None:
        return getattr(self.view_func, "required_permission", None)

    def url(self, values: dict[str, Any]) -> str:
        return re.sub(r"\{(?:\w+:)?(\w+)\}", lambda m: str(values[m.group(1)]), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Pattern:
    name: str  # "namespace:name"
    route: str  # "clinic/staff/<int:pk>/"
    kwargs: tuple[str, ...]
    callback: Callable[..., Any]


def _walk(
    patterns: list[URLPattern | URLResolver], namespace: str = "", prefix: str = ""
) -> Iterator[Pattern]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            yield from _walk(pattern.url_patterns, inner, route)
        else:
            name = ":".join(filter(None, [namespace, pattern.name or ""]))
            kwargs = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))
            yield Pattern(name, route, kwargs, pattern.callback)


def _all_patterns() -> list[Pattern]:
    return list(_walk(get_resolver().url_patterns))


def ui_routes() -> list[Route]:
    """Every URL pattern except the API's, which the operations below stand for."""
    return [
        Route(pattern.name, pattern.kwargs, pattern.callback)
        for pattern in _all_patterns()
        if not pattern.name.startswith(f"{API_NAMESPACE}:")
    ]


def api_operations() -> list[Operation]:
    """Every operation as served: the routers bound to the API, where the decorators that
    ``add_decorator`` attaches (the catalogue's permission) have been applied."""
    found = []
    for router in api._get_bound_routers():
        for path, path_view in router.path_operations.items():
            # Joined as ninja joins them, trailing slash and all.
            route = normalize_path("/".join(part for part in (router.prefix, path) if part))
            full = f"{API_ROOT}/{route.lstrip('/')}"
            for operation in path_view.operations:
                params = tuple(re.findall(r"\{(?:\w+:)?(\w+)\}", full))
                bodies = tuple(
                    model
                    for model in operation.models
                    if model.__ninja_param_source__ in ("body", "query")
                )
                for method in operation.methods:
                    found.append(Operation(method, full, params, operation.view_func, bodies))
    return found


def is_portal_view(route: Route) -> bool:
    """The patient portal's own views: open to a signed-in patient only, on their own
    record, and enumerated by mesoclinic/portal/tests/test_access.py."""
    return getattr(route.callback, "portal_view", False)


ROUTES = ui_routes()
PROTECTED_ROUTES = [
    route for route in ROUTES if route.name not in PUBLIC_VIEWS and not is_portal_view(route)
]
OPERATIONS = api_operations()


# --- The objects a URL's parameters name --------------------------------------------------------

# (URL name pattern, keyword argument) -> which object of a clinic it names. A URL whose
# argument matches no rule fails the tests below until a rule is added here.
KWARG_TARGETS: list[tuple[str, str, str]] = [
    (r"^patients:", "pk", "patient"),
    (r"^patients:", "patient_pk", "patient"),
    (r"^patients:", "medication_pk", "medication"),
    (r"^patients:", "allergy_pk", "allergy"),
    (r"^patients:", "condition_pk", "condition"),
    (r"^clinics:staff", "pk", "member"),
    (r"^clinics:", "user_pk", "member"),
    (r"^clinics:licence", "pk", "licence"),
    (r"^clinics:", "licence_pk", "licence"),
    (r"^account:token", "pk", "token"),
    (r"^catalogue:section$", "slug", "catalogue-section"),
    (r"^formulas:(detail|edit)$", "pk", "formula"),
    (r"^formulas:version$", "version_pk", "version"),
    (r"^formulas:product", "pk", "product"),
    (r"^formulas:", "product_pk", "product"),
    (r"^formulas:lot", "pk", "lot"),
    (r"^formulas:contact$", "pk", "contact"),
    (r"^formulas:", "patient_pk", "patient"),
    (r"^calendars:", "patient_pk", "patient"),
    (r"^calendars:", "plan_pk", "plan"),
    (r"^courses:", "patient_pk", "patient"),
    (r"^courses:plan", "pk", "plan"),
    (r"^courses:appointment", "pk", "appointment"),
    (r"^courses:room", "pk", "room"),
    (r"^courses:hours", "pk", "hours"),
    (r"^courses:leave", "pk", "leave"),
    (r"^courses:recall", "pk", "recall"),
    (r"^reminders:", "pk", "reminder"),
    (r"^consent:", "plan_pk", "plan"),
    (r"^consent:", "pk", "consent"),
    (r"^screening:(appointment|check-in|run)$", "pk", "appointment"),
    (r"^screening:override$", "pk", "finding"),
    (r"^screening:prescription", "pk", "plan"),
    (r"^charts:(chart|save|sign|amend|photo-add|pdf)$", "pk", "chart"),
    (r"^charts:start$", "appointment_pk", "chart-appointment"),
    (r"^charts:photo(-thumb|-remove)?$", "pk", "photo"),
    (r"^charts:photos-compare$", "patient_pk", "chart-patient"),
    (r"^charts:course-pdf$", "plan_pk", "chart-plan"),
    (r"^outcomes:(measurements|record)$", "plan_pk", "chart-plan"),
    (r"^outcomes:retract$", "pk", "measurement"),
    (r"^followup:(chart|answer|report)$", "chart_pk", "chart-signed"),
    (r"^followup:event-photo$", "pk", "event-photo"),
    (r"^followup:event", "pk", "adverse-event"),
    (r"^followup:flag-close$", "pk", "flag"),
    (r"^followup:patient$", "patient_pk", "patient"),
    (r"^portal:", "patient_pk", "patient"),
    (r"^evidence:alert(-quarantine|-close)?$", "pk", "alert"),
    (r"^evidence:alert-contact$", "pk", "alert-contact"),
]
# An API path parameter, or a field of a request body -> which object it names.
PARAM_TARGETS = {
    "patient_id": "patient",
    "medication_id": "medication",
    "allergy_id": "allergy",
    "condition_id": "condition",
    "licence_id": "licence",
    "token_id": "token",
    "user_id": "member",
    "member_id": "member",
    "staff_id": "member",
    "practitioner_id": "member",
    "ingredient_id": "ingredient",
    "product_id": "product",
    "lot_id": "lot",
    "formula_id": "formula",
    "contact_id": "contact",
    # Numbered within its formula, which the same path names by id.
    "version_number": "version-number",
    "formula_version_id": "version",
    "plan_id": "plan",
    "appointment_id": "appointment",
    "reminder_id": "reminder",
    "room_id": "room",
    "document_id": "consent",
    # Not an object: the code emailed to the patient for the "consent" draft.
    "one_time_code": "consent-code",
    "finding_id": "finding",
    "chart_id": "chart",
    "copy_from_id": "chart-signed",
    "measurement_id": "measurement",
    "rated_by_id": "member",
    "event_id": "adverse-event",
    "flag_id": "flag",
}
# (API path pattern, path parameter) -> the object it names on those paths, where that is not
# the one PARAM_TARGETS gives.
PATH_PARAM_TARGETS: list[tuple[str, str, str]] = [
    # Recall contacts exist on a recalled lot; the other lot operations act on an active one.
    (r"/lots/\{lot_id\}/contacts", "lot_id", "recalled-lot"),
    # A withdrawal needs a signed consent; the other consent operations act on the draft.
    (r"/consents/\{document_id\}/withdraw", "document_id", "consent-signed"),
    # Only a signed chart takes amendments; the other chart operations act on the draft.
    (r"/charts/\{chart_id\}/amendments", "chart_id", "chart-signed"),
    # Follow-ups and adverse events are recorded on a signed chart.
    (r"/followup/charts/\{chart_id\}", "chart_id", "chart-signed"),
]
# A body field -> a valid value where the schema alone cannot give one (a list whose items
# must name objects, a component that is a product or an ingredient but not both). Fields that
# PARAM_TARGETS names get the test's objects.
FIELD_SAMPLES: dict[str, Any] = {
    "contents": [{"ingredient_id": None, "concentration": "0.5", "unit": "%"}],
    "components": [{"product_id": None, "volume_ml": "0.5"}],
    "minutes": 30,
    # An override needs a reason of some length; others take any.
    "reason": "Reviewed with the patient and the record today.",
    # The plan's second session, 14 days after the first (clinic_objects).
    "proposals": [{"session_number": 2, "starts_at": "2026-01-05T10:00:00Z"}],
    # The patient of clinic_objects, signing the consent draft.
    "typed_name": "Jeanne Roux",
    # Signing a chart: its practitioner's password; amending the signed one.
    "password": PASSWORD,
    "field": "notes",
    # Amending the signed chart's notes, and a measurement's value (a point of its scale).
    "value": "1",
    # The primary scale of the charted course (_outcomes).
    "scale": "cellulite-grade",
    # An adverse event of the catalogue; a follow-up answers every question; a flag is
    # closed with a note of some length.
    "side_effect": "bruising",
    "answers": no_answers(),
    "action_note": "Called the patient; advice given.",
}
# Objects that belong to no clinic: naming them proves nothing about scoping.
SHARED_TARGETS = {"catalogue-section", "version-number"}


def _route_target(route: Route, kwarg: str) -> str | None:
    for name_pattern, name, target in KWARG_TARGETS:
        if name == kwarg and re.search(name_pattern, route.name):
            return target
    return None


def route_target(route: Route, kwarg: str) -> str:
    target = _route_target(route, kwarg)
    if target is None:
        pytest.fail(f"{route.name}: add a rule to KWARG_TARGETS for its argument {kwarg!r}")
    return target


def operation_target(operation: Operation, param: str) -> str:
    for path_pattern, name, target in PATH_PARAM_TARGETS:
        if name == param and re.search(path_pattern, operation.path):
            return target
    if param not in PARAM_TARGETS:
        pytest.fail(f"{operation}: add {param!r} to PARAM_TARGETS")
    return PARAM_TARGETS[param]


def clinic_objects(clinic: Clinic, practitioner: User) -> dict[str, Any]:
    """One object of each clinic-owned kind, in ``clinic``, keyed as the tables above name them."""
    patient = Patient.objects.create(
        clinic=clinic,
        given_name="Jeanne",
        family_name="Roux",
        date_of_birth=date(1980, 5, 4),
        email="jeanne.roux@example.org",  # for the consent's one-time code
    )
    licence = Licence.objects.create(
        practitioner=practitioner,
        number=f"L-{clinic.slug}",
        issuing_body="Ordre des médecins",
        jurisdiction="France",
        valid_from=date(2020, 1, 1),
    )
    licence.document.save("scan.pdf", ContentFile(b"%PDF-1.4 scan"))
    token, _ = tokens.create_token(practitioner, "script")
    ingredient_class, _ = IngredientClass.objects.get_or_create(
        code="other",
        defaults={"label": "Other", "description": "", "source": "", "data_version": 1},
    )
    ingredient = formulas.add_ingredient(
        clinic=clinic,
        name="House peptide blend",
        ingredient_class=ingredient_class,
        actor=practitioner,
    )
    product = formulas.create_product(
        clinic=clinic,
        name="Peptide blend 0.5 %",
        manufacturer="Laboratoires Exemple",
        presentation=Presentation.AMPOULE,
        volume_ml=Decimal(5),
        contents=[formulas.Content(ingredient, Decimal("0.5"), "%")],
        actor=practitioner,
    )
    lot, recalled = (
        formulas.receive_lot(
            product=product,
            lot_number=number,
            expiry_date=date(2099, 12, 31),
            received_on=date(2020, 1, 1),
            received_quantity=10,
            actor=practitioner,
        )
        for number in ("A-1", "R-1")
    )
    formula = formulas.create_formula(
        clinic=clinic,
        name="Skin quality",
        author=practitioner,
        components=[formulas.ComponentSpec(product=product, volume_ml=Decimal(2))],
        total_volume_ml=Decimal(4),
        actor=practitioner,
    )
    version = formula.current_version
    for used in (lot, recalled):
        formulas.record_lot_use(
            used, patient, Decimal(2), timezone.now(), practitioner, formula_version=version
        )
    formulas.recall_lot(recalled, "Manufacturer recall.", practitioner)
    make_bookable(practitioner, practitioner)
    room = Room.objects.create(clinic=clinic, name="Room 1")
    plan = plans.create_plan(
        patient=patient,
        indication=_catalogue_entry(
            Indication,
            "cellulite",
            primary_scale=_catalogue_entry(
                OutcomeScale,
                "cellulite-grade",
                kind=ScaleKind.ORDINAL,
                min_value=0,
                max_value=3,
                step=1,
                direction=Direction.LOWER_IS_BETTER,
            ),
        ),
        practitioner=practitioner,
        protocol=_catalogue_entry(
            Protocol,
            "default",
            sessions_min=6,
            sessions_max=8,
            interval_days=14,
            interval_tolerance_days=3,
            session_minutes=30,
            anaesthetic_cream_optional=True,
            maintenance_per_year_min=1,
            maintenance_per_year_max=2,
        ),
        actor=practitioner,
    )

    def at(day: date) -> datetime:
        return datetime.combine(day, time(10), tzinfo=clinic.tz)

    # Attended, so that the plan can complete; FIELD_SAMPLES books its second session.
    first = booking.book(
        patient=patient,
        practitioner=practitioner,
        starts_at=at(date(2025, 12, 22)),
        minutes=30,
        plan=plan,
        session_number=1,
        actor=practitioner,
    )
    booking.record_attended(first, practitioner)
    # Outside the course and in the past: it can be moved, cancelled, attended or missed.
    appointment = booking.book(
        patient=patient,
        practitioner=practitioner,
        starts_at=at(date(2025, 12, 1)),
        minutes=30,
        room=room,
        actor=practitioner,
    )
    _catalogue_entry(SideEffect, "bruising", expected_course="Settles within a day.")
    consents = plan_consents(plan, practitioner)
    charted = _charts(clinic, practitioner, lot, version)
    charted |= _outcomes(charted["chart-plan"], practitioner)
    followed = _followup(practitioner, lot, charted)
    followed |= _alert(clinic, lot, patient)
    return {
        "patient": patient.pk,
        "medication": Medication.objects.create(patient=patient, name="Warfarin").pk,
        "allergy": Allergy.objects.create(patient=patient, substance="Lidocaine").pk,
        "condition": Condition.objects.create(patient=patient, kind=ConditionKind.values[0]).pk,
        "licence": licence.pk,
        "token": token.pk,
        "member": practitioner.pk,
        "catalogue-section": "indications",
        "ingredient": ingredient.pk,
        "product": product.pk,
        "lot": lot.pk,
        "recalled-lot": recalled.pk,
        "formula": formula.pk,
        "version": version.pk,
        "version-number": version.number,
        "contact": formulas.recall_contacts(recalled).get().pk,
        "room": room.pk,
        "plan": plan.pk,
        "appointment": appointment.pk,
        "hours": WorkingHours.objects.get(practitioner=practitioner, weekday=0, starts=time(9)).pk,
        "leave": Leave.objects.create(
            practitioner=practitioner, starts_on=date(2099, 8, 1), ends_on=date(2099, 8, 15)
        ).pk,
        # Made by hand: completing the plan would close it to the booking operations.
        "recall": MaintenanceRecall.objects.create(plan=plan, due_on=date(2026, 12, 22)).pk,
        "reminder": failed_reminder(practitioner).pk,
        "consent": consents.draft.pk,
        "consent-signed": consents.signed.pk,
        "consent-code": consents.code,
        "finding": _finding(first),
        **charted,
        **followed,
    }


def _charts(clinic: Clinic, practitioner: User, lot: Any, version: Any) -> dict[str, Any]:
    """A face course of a patient with nothing in the record that blocks a chart: a signed
    chart of its first session and a draft of the second, with a photo, and a third session
    not charted yet."""
    patient = Patient.objects.create(
        clinic=clinic, given_name="Lou", family_name="Marin", date_of_birth=date(1990, 2, 3)
    )
    forehead = _catalogue_entry(BodyArea, "forehead", snomed_code="52795006", view="face")
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="cellulite"),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        areas=[forehead],
        formula_version=version,
        actor=practitioner,
    )
    signed, draft = (
        charts.start_chart(ready_session(plan, practitioner, session_number=n), practitioner)
        for n in (1, 2)
    )
    for chart in (signed, draft):
        charts.save_draft(chart, simple_draft(chart, lot, volume="1.00"), practitioner)
    image = io.BytesIO()
    Image.new("RGB", (32, 24), (224, 190, 170)).save(image, "JPEG")
    photo = photos.add_photo(
        draft,
        upload=SimpleUploadedFile("p.jpg", image.getvalue()),
        moment="before",
        body_area=forehead,
        view="front",
        actor=practitioner,
    )
    charts.sign_as(signed, practitioner)
    return {
        "chart": draft.pk,
        "chart-signed": signed.pk,
        "chart-patient": patient.pk,
        "chart-plan": plan.pk,
        "chart-appointment": ready_session(plan, practitioner, session_number=3).pk,
        "photo": photo.pk,
    }


def _followup(practitioner: User, lot: Any, charted: dict[str, Any]) -> dict[str, Any]:
    """A follow-up answered on a fourth session of the charted course, and an adverse event of
    grade 3 on its signed first session, with the flag it raised (left open) and a photo."""
    for code, _ in followup.FOLLOW_UP_QUESTIONS:
        _catalogue_entry(SideEffect, code, expected_course="")
    signed = Chart.objects.get(pk=charted["chart-signed"])
    assert signed.plan is not None
    answered = signed_chart(signed.plan, practitioner, lot, session_number=4)
    followup.record_follow_up(answered, no_answers(), practitioner, FollowUpChannel.PHONE)
    event = followup.report_event(
        signed,
        followup.EventSpec(onset_on=followup.session_day(signed), grade=3, side_effect="pain"),
        practitioner,
        Reporter.STAFF,
    )
    image = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 90, 90)).save(image, "JPEG")
    photo = add_event_photo(event, SimpleUploadedFile("e.jpg", image.getvalue()), practitioner)
    return {"adverse-event": event.pk, "flag": event.flags.get().pk, "event-photo": photo.pk}


def _alert(clinic: Clinic, lot: Any, patient: Patient) -> dict[str, Any]:
    """An open outbreak alert on the lot, with the patient who received it to contact."""
    alert = OutbreakAlert.objects.create(
        clinic=clinic,
        kind=ExposureKind.LOT,
        key=str(lot.pk),
        lot=lot,
        label=str(lot),
        window_start=date(2025, 6, 1),
        counted_to=date(2025, 12, 1),
        infections=1,
        exposed_patients=1,
        sessions=1,
        expected=0.01,
        p_value=0.01,
        background_rate=0.01,
        threshold=0.001,
        units_tested=10,
    )
    contact = AlertContact.objects.create(
        alert=alert,
        patient=patient,
        infected=True,
        onset_on=date(2025, 7, 1),
        first_exposed_on=date(2025, 6, 2),
        last_exposed_on=date(2025, 6, 2),
        sessions=1,
    )
    return {"alert": alert.pk, "alert-contact": contact.pk}


def _outcomes(plan_pk: int, practitioner: User) -> dict[str, Any]:
    """A measurement of the charted course on its primary scale, made to serve its
    indication when the catalogue is not loaded."""
    plan = CoursePlan.objects.get(pk=plan_pk)
    scale = plan.indication.primary_scale
    scale.indications.add(plan.indication)
    measured = outcomes.record_measurement(
        plan,
        scale,
        Decimal(2),
        timezone.now() - timedelta(hours=2),
        Rater.PRACTITIONER,
        practitioner,
        practitioner,
    )
    return {"measurement": measured.pk}


def _finding(appointment: Appointment) -> int:
    """An overridable block on the session's screening at booking."""
    rule = _catalogue_entry(
        ScreeningRule,
        "anticoagulant-or-antiplatelet",
        severity=Severity.BLOCK,
        check_kind=ScreeningCheck.DRUG_ONGOING,
        parameters={"drug_classes": ["vitamin-k-antagonists"]},
        overridable=True,
        message="Blood thinners make bleeding likely.",
        action="Review before going ahead.",
    )
    screening = appointment.screenings.get()
    return Finding.objects.create(
        screening=screening,
        rule=rule,
        severity=rule.severity,
        overridable=True,
        subject="medication:1",
        evidence="Warfarin",
        message=rule.message,
        action=rule.action,
    ).pk


M = TypeVar("M", bound=models.Model)


def _catalogue_entry(model: type[M], code: str, **fields: Any) -> M:
    """The catalogue entry of this code, made up when the catalogue is not loaded."""
    entry, _ = model._default_manager.get_or_create(
        code=code,
        defaults={"label": code, "description": "", "source": "", "data_version": 1, **fields},
    )
    return entry


def route_url(route: Route, objects: dict[str, Any]) -> str:
    return route.url({kwarg: objects[route_target(route, kwarg)] for kwarg in route.kwargs})


def operation_url(operation: Operation, objects: dict[str, Any]) -> str:
    return operation.url(
        {param: objects[operation_target(operation, param)] for param in operation.params}
    )


def names_object_in_body(operation: Operation) -> bool:
    keys: set[str] = set()
    for model in operation.body_models:
        keys |= set(re.findall(r'"(\w+)":', json.dumps(model.model_json_schema())))
    return bool(keys & PARAM_TARGETS.keys())


def names_clinic_object(route: Route) -> bool:
    """Unknown arguments count as naming one, so that their tests fail and say what to add."""
    return any(_route_target(route, kwarg) not in SHARED_TARGETS for kwarg in route.kwargs)


# --- Requests that must change nothing ----------------------------------------------------------


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row the clinic's people could change. Audit events are left out: recording a
    refusal is allowed, and the log is append-only anyway.

    Read with SQL, every column as stored: no manager can leave a row out and no conversion
    can hide a change, and it is an order of magnitude faster than the ORM, which matters
    twice a test."""
    tables: dict[str, list[dict[str, Any]]] = {}
    kinds: list[type[models.Model]] = [TOTPDevice]
    for label in (
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
        "evidence",
    ):
        kinds += apps.get_app_config(label).get_models(include_auto_created=True)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in kinds:
            if model is AuditEvent:
                continue
            table, key = model._meta.db_table, model._meta.pk.column
            assert key is not None
            cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {quote(key)}")  # noqa: S608 (model names)
            columns = [column[0] for column in cursor.description]
            tables[table] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return tables


def _sample(schema: dict[str, Any], defs: dict[str, Any], ids: dict[str, Any]) -> Any:
    """A value that a JSON schema accepts, so that a refused request is refused for who sent
    it and not for what it sent."""
    if "$ref" in schema:
        return _sample(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, ids)
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        return _sample(options[0], defs, ids)
    if "allOf" in schema:
        return _sample(schema["allOf"][0], defs, ids)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        # An optional field that names an object, or has a sample of its own, is sent too: it
        # is checked like any other.
        sent = [
            name
            for name in properties
            if name in schema.get("required", []) or name in ids or name in FIELD_SAMPLES
        ]
        return {name: _field(name, properties[name], defs, ids) for name in sent}
    if kind == "string":
        return {"date": "2026-01-05", "date-time": "2026-01-05T10:00:00Z"}.get(
            schema.get("format", ""), "Sample"
        )
    return {"integer": 1, "number": 1.0, "boolean": False, "array": []}.get(str(kind))


def _field(name: str, schema: dict[str, Any], defs: dict[str, Any], ids: dict[str, Any]) -> Any:
    if name in ids:
        return ids[name]
    if name in FIELD_SAMPLES:
        return _with_ids(FIELD_SAMPLES[name], ids)
    return _sample(schema, defs, ids)


def _with_ids(value: Any, ids: dict[str, Any]) -> Any:
    """A value of FIELD_SAMPLES, naming the test's own objects."""
    if isinstance(value, list):
        return [_with_ids(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: ids.get(key, _with_ids(item, ids)) for key, item in value.items()}
    return value


def request_data(
    operation: Operation, objects: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Valid query parameters and JSON body for the operation; a field that names an object
    (``practitioner_id``) names the one in ``objects``."""
    ids = {field: objects[target] for field, target in PARAM_TARGETS.items()}
    query: dict[str, Any] = {}
    body: dict[str, Any] | None = None
    for model in operation.body_models:
        schema = model.model_json_schema()
        values = _sample(schema, schema.get("$defs", {}), ids)
        if model.__ninja_param_source__ == "query":
            query.update(values)
        else:
            # ninja wraps the body parameters in a model; one parameter is the whole body.
            body = next(iter(values.values())) if len(values) == 1 else values
    return query, body


def call_api(client: Client, operation: Operation, objects: dict[str, Any]) -> Any:
    url = operation_url(operation, objects)
    query, body = request_data(operation, objects)
    if query:
        url = f"{url}?{urlencode(query)}"
    send = getattr(client, operation.method.lower())
    if operation.method in ("GET", "DELETE"):
        return send(url)
    return send(url, body or {}, content_type="application/json")


# --- People and their clinics' objects, made once for the module --------------------------------

# The people of conftest.py, made as its fixtures make them: (username, role, clinic).
PEOPLE: dict[str, tuple[str, Role, str | None]] = {
    "alice": ("alice.admin", Role.ADMIN, "clinic_a"),
    "pat": ("pat.practitioner", Role.PRACTITIONER, "clinic_a"),
    "asha": ("asha.assistant", Role.ASSISTANT, "clinic_a"),
    "rhea": ("rhea.researcher", Role.RESEARCHER, None),
    "bob": ("bob.practitioner", Role.PRACTITIONER, "clinic_b"),
    # A patient with a portal account at clinic A.
    "paula": ("paula.patient", Role.PATIENT, "clinic_a"),
}


@dataclass(frozen=True)
class World:
    """Primary keys of what the module's tests share: every test reads its objects afresh
    from the database, inside a savepoint of its own, so that no test sees another's writes."""

    clinics: dict[str, int]  # fixture name -> pk
    people: dict[str, int]  # fixture name -> pk
    own: dict[str, Any]  # clinic_objects(clinic_a, pat)
    other: dict[str, Any]  # clinic_objects(clinic_b, bob)
    media: Path  # the licence scans the objects name


@pytest.fixture(scope="module", autouse=True)
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Both clinics, their people and one object of each kind, made once: making them (a signed
    consent and its PDF among them) took longer than most tests. Made in a transaction that is
    rolled back after the module's last test, as ``TestCase.setUpTestData`` does; each test's
    ``db`` fixture runs inside it in a savepoint that is rolled back after the test."""
    media = tmp_path_factory.mktemp("access-media")
    # Argon2 is slow by design; these tests need people, not strong hashes.
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(PASSWORD_HASHERS=hashers, MEDIA_ROOT=media):
        outer = transaction.atomic()
        # As TestCase marks its class-wide transaction: code under test may open a durable one.
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


def _build_world(media: Path) -> World:
    clinics = {
        # As conftest.py makes them.
        "clinic_a": Clinic.objects.create(
            name="Clinique des Tilleuls", slug="a", time_zone="Europe/Paris"
        ),
        "clinic_b": Clinic.objects.create(
            name="Harbour Skin Clinic", slug="b", time_zone="Europe/London"
        ),
    }
    people = {
        name: create_user(username, role, clinics[clinic] if clinic else None)
        for name, (username, role, clinic) in PEOPLE.items()
    }
    return World(
        clinics={name: clinic.pk for name, clinic in clinics.items()},
        people={name: user.pk for name, user in people.items()},
        own=clinic_objects(clinics["clinic_a"], people["pat"]),
        other=clinic_objects(clinics["clinic_b"], people["bob"]),
        media=media,
    )


@pytest.fixture(autouse=True)
def private_media(
    request: pytest.FixtureRequest, settings: Any, tmp_path: Path, world: World
) -> None:
    """Each test has the licence scans in a directory of its own, so that a file it writes or
    removes is gone with the rows it wrote."""
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        pytest.fail("The module's objects live in a transaction: no transactional_db here.")
    shutil.copytree(world.media, tmp_path, dirs_exist_ok=True)
    settings.MEDIA_ROOT = tmp_path


def _fresh_code(objects: dict[str, Any]) -> None:
    """The consent code was emailed when the objects were made: it has a lifetime of minutes,
    which counts, as it did when each test made its own, from the start of the test."""
    now = timezone.now()
    ConsentCode.objects.filter(document_id=objects["consent"]).update(
        created_at=now, expires_at=now + timedelta(minutes=CODE_MINUTES)
    )


def _member(world: World, name: str) -> User:
    return User.objects.get(pk=world.people[name])


@pytest.fixture
def clinic_a(db: None, world: World) -> Clinic:
    return Clinic.objects.get(pk=world.clinics["clinic_a"])


@pytest.fixture
def clinic_b(db: None, world: World) -> Clinic:
    return Clinic.objects.get(pk=world.clinics["clinic_b"])


@pytest.fixture
def alice(db: None, world: World) -> User:
    return _member(world, "alice")


@pytest.fixture
def pat(db: None, world: World) -> User:
    return _member(world, "pat")


@pytest.fixture
def asha(db: None, world: World) -> User:
    return _member(world, "asha")


@pytest.fixture
def rhea(db: None, world: World) -> User:
    return _member(world, "rhea")


@pytest.fixture
def bob(db: None, world: World) -> User:
    return _member(world, "bob")


@pytest.fixture
def paula(db: None, world: World) -> User:
    return _member(world, "paula")


@pytest.fixture
def own_objects(db: None, world: World) -> dict[str, Any]:
    _fresh_code(world.own)
    return dict(world.own)


@pytest.fixture
def other_objects(db: None, world: World) -> dict[str, Any]:
    _fresh_code(world.other)
    return dict(world.other)


STAFF = ["alice", "pat", "asha"]
EVERYONE = [*STAFF, "rhea", "paula"]
ROLE_OF = {
    "alice": Role.ADMIN,
    "pat": Role.PRACTITIONER,
    "asha": Role.ASSISTANT,
    "rhea": Role.RESEARCHER,
    "paula": Role.PATIENT,
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def person(request: pytest.FixtureRequest, name: str) -> User:
    user: User = request.getfixturevalue(name)
    assert user.role == ROLE_OF[name]
    return user


def lacks(name: str, permission: Perm | None) -> bool:
    return permission is not None and permission not in ROLE_PERMISSIONS[ROLE_OF[name]]


# --- a. Every view and operation declares what it needs ----------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_every_view_declares_a_permission_or_is_public(route: Route) -> None:
    assert (
        route.name in PUBLIC_VIEWS or isinstance(route.permission, Perm) or is_portal_view(route)
    ), f"{route.name} declares no permission: decorate it with @requires(Perm.X)"


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_every_api_operation_declares_a_permission(operation: Operation) -> None:
    assert isinstance(operation.permission, Perm), (
        f"{operation} declares no permission: decorate it with @api_requires(Perm.X)"
    )


def test_the_allow_lists_name_only_what_exists() -> None:
    names = {pattern.name for pattern in _all_patterns()}
    assert names >= PUBLIC_VIEWS
    assert names >= PUBLIC_API_PAGES


def _shape(path: str) -> str:
    """A path with its parameters blanked, for comparing Django's and ninja's notations."""
    return re.sub(r"<(?:\w+:)?\w+>|\{(?:\w+:)?\w+\}", "{}", "/" + path.strip("/"))


def test_every_api_url_is_one_of_the_operations_checked_here() -> None:
    """The API's URL patterns are checked through its operations: nothing else may be
    served under it but its own description pages."""
    operation_paths = {_shape(operation.path) for operation in OPERATIONS}
    api_patterns = [p for p in _all_patterns() if p.name.startswith(f"{API_NAMESPACE}:")]
    assert api_patterns
    for pattern in api_patterns:
        if pattern.name not in PUBLIC_API_PAGES:
            assert _shape(pattern.route) in operation_paths, pattern.route


@pytest.mark.parametrize(
    "name",
    sorted(
        PUBLIC_VIEWS
        - {"logout", "calendar-feed", "set_language", "portal:logout", "portal:invitation"}
    ),
)
def test_the_public_views_open_without_signing_in(db: None, client: Client, name: str) -> None:
    assert client.get(reverse(name)).status_code == 200


def test_a_calendar_feed_without_its_secret_is_not_found(db: None, client: Client) -> None:
    assert client.get(reverse("calendar-feed", args=["cal_unknown"])).status_code == 404


# --- b. No member of clinic A reaches an object of clinic B ----------------------------------


CROSS_ROUTES = [
    pytest.param(name, method, route, id=f"{name}-{method}-{route.name}")
    for route in PROTECTED_ROUTES
    if route.kwargs and names_clinic_object(route)
    for name in STAFF
    for method in ("GET", "POST")
]
CROSS_OPERATIONS = [
    pytest.param(name, operation, id=f"{name}-{operation}")
    for operation in OPERATIONS
    if operation.params or names_object_in_body(operation)
    for name in STAFF
]


@pytest.mark.parametrize(("name", "method", "route"), CROSS_ROUTES)
def test_staff_never_reach_another_clinics_object_through_a_page(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    own_objects: dict[str, Any],
    other_objects: dict[str, Any],
    name: str,
    method: str,
    route: Route,
) -> None:
    client = client_for(person(request, name))
    url = route_url(route, other_objects)
    before = snapshot()

    response = client.get(url) if method == "GET" else client.post(url, {})

    # 405: a page that does not take the method turns it away before looking anything up.
    assert response.status_code in (403, 404, 405), (
        f"{method} {url} answered {response.status_code}"
    )
    assert snapshot() == before


@pytest.mark.parametrize(("name", "operation"), CROSS_OPERATIONS)
def test_staff_never_reach_another_clinics_object_through_the_api(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    own_objects: dict[str, Any],
    other_objects: dict[str, Any],
    name: str,
    operation: Operation,
) -> None:
    client = client_for(person(request, name))
    before = snapshot()

    response = call_api(client, operation, other_objects)

    # Named in the path, the object is not found; named in the body, the body is invalid.
    allowed = (403, 404) if operation.params else (400, 403, 404, 422)
    assert response.status_code in allowed, f"{operation} answered {response.status_code}"
    assert snapshot() == before


# --- c. A role without the permission is refused ----------------------------------------------


DENIED_ROUTES = [
    pytest.param(name, method, route, id=f"{name}-{method}-{route.name}")
    for route in PROTECTED_ROUTES
    for name in EVERYONE
    if lacks(name, route.permission)
    for method in ("GET", "POST")
]
DENIED_OPERATIONS = [
    pytest.param(name, operation, id=f"{name}-{operation}")
    for operation in OPERATIONS
    for name in EVERYONE
    if lacks(name, operation.permission)
]


@pytest.mark.parametrize(("name", "method", "route"), DENIED_ROUTES)
def test_a_role_without_the_permission_is_refused_the_page(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    own_objects: dict[str, Any],
    name: str,
    method: str,
    route: Route,
) -> None:
    """With objects of the person's own clinic, so that the refusal is the role's."""
    client = client_for(person(request, name))
    url = route_url(route, own_objects)
    before = snapshot()

    response = client.get(url) if method == "GET" else client.post(url, {})

    assert response.status_code in (403, 405), f"{method} {url} answered {response.status_code}"
    assert snapshot() == before


@pytest.mark.parametrize(("name", "operation"), DENIED_OPERATIONS)
def test_a_role_without_the_permission_is_refused_the_operation(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    own_objects: dict[str, Any],
    name: str,
    operation: Operation,
) -> None:
    client = client_for(person(request, name))
    before = snapshot()

    response = call_api(client, operation, own_objects)

    assert response.status_code == 403, f"{operation} answered {response.status_code}"
    assert snapshot() == before


@pytest.mark.parametrize("name", ["rhea", "paula"])
def test_researchers_and_patients_hold_no_record_permission(name: str) -> None:
    """Stated once more in words: they reach no patient, staff or licence page or operation."""
    record_perms = {
        perm for perm in Perm if perm.value.split(".")[0] in ("patient", "staff", "licence")
    }
    assert not record_perms & ROLE_PERMISSIONS[ROLE_OF[name]]
    record_routes = [route for route in PROTECTED_ROUTES if route.permission in record_perms]
    record_operations = [op for op in OPERATIONS if op.permission in record_perms]
    assert record_routes and record_operations


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=lambda route: route.name)
def test_an_anonymous_visitor_is_sent_to_sign_in(
    client: Client, own_objects: dict[str, Any], route: Route
) -> None:
    url = route_url(route, own_objects)
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_an_anonymous_caller_gets_401_from_the_api(
    client: Client, own_objects: dict[str, Any], operation: Operation
) -> None:
    before = snapshot()
    response = call_api(client, operation, own_objects)
    assert response.status_code == 401
    assert snapshot() == before


# --- d. Staff without a second factor are sent to prove it -----------------------------------


@pytest.mark.parametrize(
    "route",
    [route for route in PROTECTED_ROUTES if route.permission is not Perm.SECOND_FACTOR],
    ids=lambda route: route.name,
)
def test_staff_without_a_second_factor_are_sent_to_prove_it(
    pat: User, own_objects: dict[str, Any], route: Route
) -> None:
    client = sign_in(Client(), pat, second_factor=False)
    url = route_url(route, own_objects)
    before = snapshot()
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('account:two-factor')}?next={url}"
    assert snapshot() == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_staff_without_a_second_factor_are_refused_by_the_api(
    pat: User, own_objects: dict[str, Any], operation: Operation
) -> None:
    client = sign_in(Client(), pat, second_factor=False)
    before = snapshot()
    response = call_api(client, operation, own_objects)
    assert response.status_code == 403, f"{operation} answered {response.status_code}"
    assert snapshot() == before


# --- The controls: the same requests succeed for whom they are meant -------------------------


def holder_of(permission: Perm | None) -> str:
    """Pat first: the own-clinic token is hers (tokens are personal)."""
    return next(name for name in ("pat", "alice", "asha") if not lacks(name, permission))


@pytest.mark.parametrize(
    "route",
    [route for route in PROTECTED_ROUTES if route.kwargs and names_clinic_object(route)],
    ids=lambda route: route.name,
)
def test_the_pages_refused_above_open_on_the_own_clinics_object(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    own_objects: dict[str, Any],
    route: Route,
) -> None:
    """So that the 404s above come from the clinic, not from a URL that names nothing."""
    client = client_for(person(request, holder_of(route.permission)))
    response = client.get(route_url(route, own_objects))
    assert response.status_code in (200, 405), response.status_code


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.params], ids=str)
def test_the_operations_refused_above_succeed_on_the_own_clinics_object(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    own_objects: dict[str, Any],
    operation: Operation,
) -> None:
    client = client_for(person(request, holder_of(operation.permission)))
    response = call_api(client, operation, own_objects)
    assert response.status_code < 300, (response.status_code, response.content[:300])
