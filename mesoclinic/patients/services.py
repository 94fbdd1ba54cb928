"""Reading and writing patient records. Every function that reads or writes a patient's data
records it in the audit log, so that no view or API operation can forget to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce, Now
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.patients.drugs import resolve_medication_name
from mesoclinic.patients.models import (
    Allergy,
    Condition,
    Medication,
    Patient,
    PortalAccount,
    phone_digits,
)

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y")
# Fewer digits than this match too many numbers to be a phone search.
MIN_PHONE_DIGITS = 4
ERASED_NAME = "Erased"
IDENTITY_FIELDS = ("given_name", "family_name", "phone", "phone_digits", "email", "notes")


class AlreadyErasedError(Exception):
    """The patient's identity has already been erased; there is nothing left to erase."""


def parse_date(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def search_patients(patients: QuerySet[Patient], query: str) -> QuerySet[Patient]:
    """Narrow ``patients`` by what was typed: a date of birth, a phone number however it is
    formatted, or names (each word must begin a given or family name)."""
    query = query.strip()
    if not query:
        return patients
    born = parse_date(query)
    if born is not None:
        return patients.filter(date_of_birth=born)
    digits = phone_digits(query)
    if not re.search(r"[^\W\d_]", query) and len(digits) >= MIN_PHONE_DIGITS:
        # Contains, not equals: "06 12 34 56 78" must find "+33 6 12 34 56 78" by its tail.
        return patients.filter(phone_digits__contains=digits.lstrip("0") or digits)
    for word in query.split():
        patients = patients.filter(
            Q(family_name__istartswith=word) | Q(given_name__istartswith=word)
        )
    return patients


def save_patient(patient: Patient, *, actor: User, request: HttpRequest | None) -> Patient:
    """Create or update a patient (fields already validated), recording which fields changed."""
    creating = patient.pk is None
    changed: list[str] = []
    if not creating:
        before = Patient.objects.get(pk=patient.pk)
        changed = [
            f.name
            for f in Patient._meta.concrete_fields
            if getattr(before, f.attname) != getattr(patient, f.attname)
        ]
    patient.save()
    if creating:
        audit.record(AuditAction.CREATE, request=request, actor=actor, obj=patient)
    else:
        audit.record(AuditAction.UPDATE, request=request, actor=actor, obj=patient, fields=changed)
    return patient


@dataclass(frozen=True)
class PatientRecord:
    patient: Patient
    medications: list[Medication]
    allergies: list[Allergy]
    conditions: list[Condition]


def open_record(patient: Patient, *, request: HttpRequest) -> PatientRecord:
    """Everything shown of one patient, with the audit event saying who opened it."""
    audit.record(AuditAction.VIEW, request=request, obj=patient)
    return PatientRecord(
        patient=patient,
        medications=list(patient.medications.prefetch_related("drug_classes")),
        allergies=list(patient.allergies.all()),
        conditions=list(patient.conditions.select_related("body_area")),
    )


def record_list_view(request: HttpRequest, patients: list[Patient]) -> None:
    """A page of a patient list shows names and birth dates: one event names its patients.
    The search text is not kept, because it may be a name."""
    audit.record(AuditAction.VIEW, request=request, listed_patient_ids=[p.pk for p in patients])


def add_medication(
    patient: Patient,
    *,
    name: str,
    dose: str = "",
    started: date | None = None,
    stopped: date | None = None,
    last_dose_taken: date | None = None,
    actor: User,
    request: HttpRequest | None,
) -> Medication:
    resolution = resolve_medication_name(name)
    medication = Medication(
        patient=patient,
        name=name.strip(),
        dose=dose,
        started=started,
        stopped=stopped,
        last_dose_taken=last_dose_taken,
        resolved_as=resolution.matched_name,
    )
    medication.full_clean()
    with transaction.atomic():
        medication.save()
        medication.drug_classes.set(resolution.drug_classes)
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=medication,
            clinic_id=patient.clinic_id,
            resolved=resolution.resolved,
        )
    return medication


def add_allergy(
    patient: Patient,
    *,
    substance: str,
    reaction: str = "",
    notes: str = "",
    actor: User,
    request: HttpRequest | None,
) -> Allergy:
    allergy = Allergy(patient=patient, substance=substance.strip(), reaction=reaction, notes=notes)
    allergy.full_clean()
    allergy.save()
    audit.record(
        AuditAction.CREATE, request=request, actor=actor, obj=allergy, clinic_id=patient.clinic_id
    )
    return allergy


def add_condition(
    patient: Patient,
    *,
    kind: str,
    description: str = "",
    body_area: BodyArea | None = None,
    started: date | None = None,
    ended: date | None = None,
    actor: User,
    request: HttpRequest | None,
) -> Condition:
    condition = Condition(
        patient=patient,
        kind=kind,
        description=description,
        body_area=body_area,
        started=started,
        ended=ended,
    )
    condition.full_clean()
    condition.save()
    audit.record(
        AuditAction.CREATE, request=request, actor=actor, obj=condition, clinic_id=patient.clinic_id
    )
    return condition


def audit_trail(patient: Patient) -> QuerySet[AuditEvent]:
    """Every audit event about the patient, newest first: who opened or changed the record."""
    return AuditEvent.objects.filter(patient_id=patient.pk).select_related("actor")


def _row(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in exclude
    }


def export_patient(patient: Patient) -> dict[str, Any]:
    """All of one patient's data, for an access request: the record, every earlier version
    of it, and every audit event about it. Values are dates and strings; the caller encodes."""
    medications = list(patient.medications.prefetch_related("drug_classes"))
    return {
        "format": "mesoclinic.patient-export/1",
        "exported_at": timezone.now(),
        "patient": _row(patient, exclude=("clinic_id",)) | {"clinic": patient.clinic.name},
        "medications": [
            _row(m, exclude=("patient_id",))
            | {"drug_classes": [c.code for c in m.drug_classes.all()]}
            for m in medications
        ],
        "allergies": [_row(a, exclude=("patient_id",)) for a in patient.allergies.all()],
        "conditions": [
            _row(c, exclude=("patient_id", "body_area_id"))
            | {"body_area": c.body_area.code if c.body_area else None}
            for c in patient.conditions.select_related("body_area")
        ],
        "history": {
            "patient": [_row(h) for h in patient.history.all()],
            "medications": [_row(h) for h in Medication.history.filter(patient_id=patient.pk)],
            "allergies": [_row(h) for h in Allergy.history.filter(patient_id=patient.pk)],
            "conditions": [_row(h) for h in Condition.history.filter(patient_id=patient.pk)],
        },
        "audit_events": [
            {
                "at": e.at,
                "actor": str(e.actor) if e.actor else None,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "ip_address": e.ip_address,
                "detail": e.detail,
            }
            for e in audit_trail(patient)
        ],
    }


def record_export(patient: Patient, *, request: HttpRequest) -> dict[str, Any]:
    """Export the patient's data, recording the export first so that it lists itself."""
    audit.record(AuditAction.EXPORT, request=request, obj=patient)
    return export_patient(patient)


def _erase_portal_identity(patient: Patient) -> None:
    """The portal's copies of the identity: the account (closed, its sign-in name and names
    removed), its emailed-code device, and the addresses invitations were sent to. The
    portal comes later in the flow, so its invitations are looked up by name."""
    account = PortalAccount.objects.filter(patient=patient).select_related("user").first()
    if account is not None:
        user = account.user
        user.username = f"erased-patient-{patient.pk}"
        user.email = user.first_name = user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        EmailDevice.objects.filter(user=user).delete()
    apps.get_model("portal", "Invitation").objects.filter(patient=patient).update(
        sent_to="", revoked_at=Coalesce("revoked_at", Now())
    )


def _erase_contact_notes(patient: Patient) -> None:
    """What staff wrote when telling the patient about a recalled lot or an outbreak alert
    ("spoke to her husband...") is free text about the person: blanked, history too. The
    alert contacts belong to a later app and are looked up by name."""
    for app, model in (("formulas", "RecallContact"), ("evidence", "AlertContact")):
        for name in (model, f"Historical{model}"):
            apps.get_model(app, name).objects.filter(patient_id=patient.pk).update(note="")


@transaction.atomic
def erase_patient(
    patient: Patient, *, actor: User, reason: str, request: HttpRequest | None = None
) -> Patient:
    """Remove the patient's identity, here and in every earlier version of the record, and
    keep the clinical rows, now de-identified, for the evidence. The birth date moves to
    1 July of its year, so that age bands still come out right to within six months."""
    # Locked so that an edit racing the erasure cannot write the identity back.
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.erased_at is not None:
        raise AlreadyErasedError("This patient's identity has already been erased.")
    anonymous = {
        "given_name": ERASED_NAME,
        "family_name": ERASED_NAME,
        "phone": "",
        "phone_digits": "",
        "email": "",
        "notes": "",
        "date_of_birth": date(patient.date_of_birth.year, 7, 1),
    }
    for field, value in anonymous.items():
        setattr(patient, field, value)
    patient.erased_at = timezone.now()
    patient.save()
    patient.history.all().update(**anonymous)
    _erase_portal_identity(patient)
    _erase_contact_notes(patient)
    audit.record(AuditAction.ERASE, request=request, actor=actor, obj=patient, reason=reason)
    return patient
