from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, User
from mesoclinic.patients import services
from mesoclinic.patients.models import Allergy, Condition, ConditionKind, Medication, Patient
from mesoclinic.patients.tests.conftest import make_patient


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", {"Rousseau", "Martin", "Smith"}),
        ("rousseau", {"Rousseau"}),
        ("Cam", {"Rousseau"}),
        ("camille rou", {"Rousseau"}),
        ("jean martin", {"Martin"}),
        ("1980-03-14", {"Rousseau"}),
        ("14/03/1980", {"Rousseau"}),
        ("14.03.1980", {"Rousseau"}),
        ("1975-01-02", {"Martin"}),
        ("06 12 34 56 78", {"Rousseau"}),
        ("+33612345678", {"Rousseau"}),
        ("0612-345-678", {"Rousseau"}),
        ("020 7946 0018", {"Smith"}),
        ("nobody", set()),
        ("1999-09-09", set()),
    ],
)
def test_search_finds_by_name_birth_date_or_phone(
    asha: User, bob: User, query: str, found: set[str]
) -> None:
    make_patient(asha)
    make_patient(
        asha, given_name="Jean", family_name="Martin", date_of_birth=date(1975, 1, 2), phone=""
    )
    make_patient(
        asha,
        given_name="Ann",
        family_name="Smith",
        date_of_birth=date(1990, 6, 6),
        phone="+44 20 7946 0018",
    )
    make_patient(bob, family_name="Rousseau")  # clinic B: never in clinic A's list

    clinic_a_patients = Patient.objects.filter(clinic=asha.clinic)
    result = services.search_patients(clinic_a_patients, query)

    assert {p.family_name for p in result} == found


def test_add_medication_resolves_and_audits(
    catalogue: None, asha: User, patient_a: Patient
) -> None:
    medication = services.add_medication(
        patient_a, name="Advil 400 mg", last_dose_taken=date(2025, 5, 1), actor=asha, request=None
    )

    medication.refresh_from_db()
    assert medication.name == "Advil 400 mg"
    assert medication.resolved_as == "Advil"
    assert [c.code for c in medication.drug_classes.all()] == ["systemic-nsaids"]
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="patients.Medication")
    assert event.patient_id == patient_a.pk
    assert event.actor == asha
    assert event.clinic_id == patient_a.clinic_id


def test_add_medication_keeps_an_unknown_drug(
    catalogue: None, asha: User, patient_a: Patient
) -> None:
    medication = services.add_medication(patient_a, name="Levothyrox", actor=asha, request=None)

    assert not medication.is_resolved
    assert medication.drug_classes.count() == 0
    assert Medication.objects.filter(patient=patient_a, name="Levothyrox").exists()


def test_add_medication_refuses_a_stop_before_the_start(
    catalogue: None, asha: User, patient_a: Patient
) -> None:
    with pytest.raises(ValidationError):
        services.add_medication(
            patient_a,
            name="ibuprofen",
            started=date(2025, 5, 2),
            stopped=date(2025, 5, 1),
            actor=asha,
            request=None,
        )
    assert not Medication.objects.exists()
    assert not AuditEvent.objects.filter(object_type="patients.Medication").exists()


def test_update_records_which_fields_changed(asha: User, patient_a: Patient) -> None:
    patient_a.phone = "06 00 00 00 00"
    services.save_patient(patient_a, actor=asha, request=None)

    event = AuditEvent.objects.get(action=AuditAction.UPDATE)
    assert event.detail == {"fields": ["phone"]}
    assert patient_a.history.count() == 2


def _clinical_rows(catalogue: None, asha: User, patient: Patient) -> None:
    services.add_medication(patient, name="aspirin", dose="75 mg", actor=asha, request=None)
    services.add_allergy(patient, substance="lidocaine", reaction="hives", actor=asha, request=None)
    services.add_condition(
        patient,
        kind=ConditionKind.PREGNANCY,
        started=date(2025, 1, 1),
        actor=asha,
        request=None,
    )


def test_export_holds_everything_about_the_patient(
    catalogue: None, asha: User, patient_a: Patient
) -> None:
    _clinical_rows(catalogue, asha, patient_a)
    patient_a.notes = "Moved"
    services.save_patient(patient_a, actor=asha, request=None)

    data = json.loads(json.dumps(services.export_patient(patient_a), cls=DjangoJSONEncoder))

    assert data["patient"]["given_name"] == "Camille"
    assert data["patient"]["email"] == "camille.rousseau@example.org"
    assert data["patient"]["date_of_birth"] == "1980-03-14"
    assert data["medications"][0]["name"] == "aspirin"
    assert set(data["medications"][0]["drug_classes"]) == {
        "salicylates",
        "aspirin-antithrombotic",
    }
    assert data["allergies"][0]["substance"] == "lidocaine"
    assert data["conditions"][0]["kind"] == "pregnancy"
    assert [h["notes"] for h in data["history"]["patient"]] == [
        "Moved",
        "Prefers morning appointments.",
    ]
    # Adding the medication and then its drug classes each keep a version.
    assert {h["name"] for h in data["history"]["medications"]} == {"aspirin"}
    assert {e["action"] for e in data["audit_events"]} == {"create", "update"}


def _table_text(table: str) -> str:
    # The table name comes from our models, quoted: nothing typed reaches this SQL.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return repr(cursor.fetchall())


def test_erasure_removes_identity_everywhere_and_keeps_clinical_rows(
    catalogue: None, alice: User, asha: User, patient_a: Patient
) -> None:
    _clinical_rows(catalogue, asha, patient_a)
    patient_a.phone = "01 99 00 11 22"
    services.save_patient(patient_a, actor=asha, request=None)
    former = [
        "Camille",
        "Rousseau",
        "camille.rousseau",
        "612345678",
        "6 12 34",
        "199001122",
        "morning",
    ]

    services.erase_patient(patient_a, actor=alice, reason="The patient asked on 2 May.")

    patient_a.refresh_from_db()
    assert (patient_a.given_name, patient_a.family_name) == ("Erased", "Erased")
    assert (patient_a.phone, patient_a.phone_digits, patient_a.email, patient_a.notes) == ("",) * 4
    assert patient_a.date_of_birth == date(1980, 7, 1)
    assert patient_a.erased_at is not None
    for table in (Patient._meta.db_table, Patient.history.model._meta.db_table):
        text = _table_text(table)
        for fragment in former:
            assert fragment not in text, f"{fragment!r} is still in {table}"
    assert Medication.objects.filter(patient=patient_a, resolved_as="aspirin").exists()
    assert Allergy.objects.filter(patient=patient_a, substance="lidocaine").exists()
    assert Condition.objects.filter(patient=patient_a, kind=ConditionKind.PREGNANCY).exists()
    event = AuditEvent.objects.get(action=AuditAction.ERASE)
    assert event.actor == alice
    assert event.patient_id == patient_a.pk
    assert event.detail == {"reason": "The patient asked on 2 May."}


def test_erasure_cannot_run_twice(alice: User, patient_a: Patient) -> None:
    services.erase_patient(patient_a, actor=alice, reason="Asked.")

    with pytest.raises(services.AlreadyErasedError):
        services.erase_patient(patient_a, actor=alice, reason="Again.")
    assert AuditEvent.objects.filter(action=AuditAction.ERASE).count() == 1


def test_erasure_leaves_other_patients_alone(alice: User, asha: User, clinic_a: Clinic) -> None:
    erased = make_patient(asha)
    kept = make_patient(asha, given_name="Jean", family_name="Martin")

    services.erase_patient(erased, actor=alice, reason="Asked.")

    kept.refresh_from_db()
    assert kept.family_name == "Martin"
    assert kept.history.get().family_name == "Martin"
