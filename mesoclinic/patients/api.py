"""Patient records over the API, mounted at /api/v1/patients/.

Every operation declares its permission and fetches through the tenancy helpers, so a patient
of another clinic is 404; every read and write is audited by the services it calls.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.clinics.api_errors import invalid
from mesoclinic.clinics.models import User
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.patients import services
from mesoclinic.patients.models import (
    Allergy,
    Condition,
    ConditionKind,
    Medication,
    Patient,
    Sex,
)

router = Router(tags=["patients"])

PAGE_SIZE = 25


class PatientIn(Schema):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex = Sex.UNKNOWN
    phone: str = Field("", max_length=40)
    email: str = ""
    preferred_language: str = Field("en", description="en or fr")
    notes: str = ""


class PatientOut(Schema):
    id: int
    given_name: str
    family_name: str
    date_of_birth: date
    sex: Sex
    phone: str
    email: str
    preferred_language: str
    notes: str
    created_at: datetime
    erased_at: datetime | None


class PatientPage(Schema):
    count: int
    page: int
    pages: int
    items: list[PatientOut]


class MedicationIn(Schema):
    name: str = Field(min_length=1, max_length=200, description="Ingredient or brand, as typed.")
    dose: str = Field("", max_length=100)
    started: date | None = None
    stopped: date | None = None
    last_dose_taken: date | None = None


class MedicationOut(Schema):
    id: int
    name: str
    dose: str
    started: date | None
    stopped: date | None
    last_dose_taken: date | None
    resolved: bool = Field(description="False when the name matched no catalogue drug.")
    resolved_as: str = Field(description="The catalogue name the medication matched.")
    drug_classes: list[str] = Field(description="Codes of the catalogue drug classes.")

    @staticmethod
    def resolve_resolved(obj: Medication) -> bool:
        return obj.is_resolved

    @staticmethod
    def resolve_drug_classes(obj: Medication) -> list[str]:
        return [c.code for c in obj.drug_classes.all()]


class AllergyIn(Schema):
    substance: str = Field(min_length=1, max_length=200)
    reaction: str = Field("", max_length=200)
    notes: str = ""


class AllergyOut(AllergyIn):
    id: int
    recorded_at: datetime


class ConditionIn(Schema):
    kind: ConditionKind
    description: str = Field("", max_length=300)
    body_area: str | None = Field(None, description="Code of a catalogue body area.")
    started: date | None = None
    ended: date | None = None


class ConditionOut(Schema):
    id: int
    kind: ConditionKind
    description: str
    body_area: str | None
    started: date | None
    ended: date | None

    @staticmethod
    def resolve_body_area(obj: Condition) -> str | None:
        return obj.body_area.code if obj.body_area else None


def _actor(request: HttpRequest) -> User:
    user = signed_in_user(request)
    return user


def _save(request: HttpRequest, patient: Patient, payload: PatientIn) -> Patient:
    for field, value in payload.dict().items():
        setattr(patient, field, value)
    if patient.date_of_birth > date.today():
        raise HttpError(422, "The date of birth cannot be in the future.")
    try:
        patient.full_clean()
    except ValidationError as error:
        raise invalid(error) from None
    return services.save_patient(patient, actor=_actor(request), request=request)


@router.get("/", response=PatientPage, summary="List or search patients")
@api_requires(Perm.PATIENT_VIEW)
def list_patients(request: HttpRequest, q: str = "", page: int = 1) -> dict[str, Any]:
    """``q``: a name, a date of birth (1980-03-14 or 14/03/1980) or a phone number."""
    patients = services.search_patients(scoped(request, Patient), q)
    count = patients.count()
    pages = max(1, math.ceil(count / PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = list(patients[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    services.record_list_view(request, items)
    return {"count": count, "page": page, "pages": pages, "items": items}


@router.post("/", response={201: PatientOut}, summary="Add a patient")
@api_requires(Perm.PATIENT_EDIT)
def create_patient(request: HttpRequest, payload: PatientIn) -> Status[Patient]:
    clinic = _actor(request).clinic
    assert clinic is not None  # staff, as the permission requires
    return Status(201, _save(request, Patient(clinic=clinic), payload))


@router.get("/{patient_id}", response=PatientOut, summary="Read a patient")
@api_requires(Perm.PATIENT_VIEW)
def get_patient(request: HttpRequest, patient_id: int) -> Patient:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    return services.open_record(patient, request=request).patient


@router.put("/{patient_id}", response=PatientOut, summary="Update a patient")
@api_requires(Perm.PATIENT_EDIT)
def update_patient(request: HttpRequest, patient_id: int, payload: PatientIn) -> Patient:
    return _save(request, get_scoped_or_404(request, Patient, pk=patient_id), payload)


@router.get("/{patient_id}/medications", response=list[MedicationOut], summary="List medications")
@api_requires(Perm.PATIENT_VIEW)
def list_medications(request: HttpRequest, patient_id: int) -> list[Medication]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    return services.open_record(patient, request=request).medications


@router.post("/{patient_id}/medications", response={201: MedicationOut}, summary="Add a medication")
@api_requires(Perm.PATIENT_EDIT)
def add_medication(
    request: HttpRequest, patient_id: int, payload: MedicationIn
) -> Status[Medication]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    try:
        medication = services.add_medication(
            patient, **payload.dict(), actor=_actor(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, medication)


@router.get("/{patient_id}/allergies", response=list[AllergyOut], summary="List allergies")
@api_requires(Perm.PATIENT_VIEW)
def list_allergies(request: HttpRequest, patient_id: int) -> list[Allergy]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    return services.open_record(patient, request=request).allergies


@router.post("/{patient_id}/allergies", response={201: AllergyOut}, summary="Add an allergy")
@api_requires(Perm.PATIENT_EDIT)
def add_allergy(request: HttpRequest, patient_id: int, payload: AllergyIn) -> Status[Allergy]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    try:
        allergy = services.add_allergy(
            patient, **payload.dict(), actor=_actor(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, allergy)


@router.get("/{patient_id}/conditions", response=list[ConditionOut], summary="List conditions")
@api_requires(Perm.PATIENT_VIEW)
def list_conditions(request: HttpRequest, patient_id: int) -> list[Condition]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    return services.open_record(patient, request=request).conditions


@router.post("/{patient_id}/conditions", response={201: ConditionOut}, summary="Add a condition")
@api_requires(Perm.PATIENT_EDIT)
def add_condition(request: HttpRequest, patient_id: int, payload: ConditionIn) -> Status[Condition]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    data = payload.dict()
    area_code = data.pop("body_area")
    body_area = None
    if area_code is not None:
        body_area = BodyArea.objects.filter(code=area_code, retired=False).first()
        if body_area is None:
            raise HttpError(422, f"No body area has the code {area_code!r}.")
    try:
        condition = services.add_condition(
            patient, **data, body_area=body_area, actor=_actor(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, condition)


@router.get(
    "/{patient_id}/export",
    response=dict[str, Any],
    summary="Export all of a patient's data",
    description="Everything held about the patient, for an access request: the record, its "
    "earlier versions and the audit events about it. The export itself is audited.",
)
@api_requires(Perm.PATIENT_EXPORT)
def export_patient(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    return services.record_export(patient, request=request)
