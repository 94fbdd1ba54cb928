from __future__ import annotations

import hashlib
import os
import re
import statistics
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Field, ForeignKey, Model
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given, settings
from hypothesis import strategies as st

from mesoclinic.charts.models import (
    AreaTreatment,
    Chart,
    ChartAmendment,
    ChartPhoto,
    InjectionPoint,
    Syringe,
    SyringeLot,
)
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import Clinic, Licence, Role, User
from mesoclinic.clinics.services import licence_alerts
from mesoclinic.courses.models import (
    Appointment,
    ConcurrentTreatment,
    CoursePlan,
    Leave,
    MaintenanceRecall,
    Room,
    WorkingHours,
)
from mesoclinic.demo.accounts import totp_key
from mesoclinic.demo.drugs import DRUGS
from mesoclinic.demo.formulas import HISTORY_REFERENCE, MissingCatalogue
from mesoclinic.demo.generator import (
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    MAX_AGE,
    MIN_AGE,
    RESERVED_EMAIL_DOMAINS,
    build_demo,
    make_allergies,
    make_conditions,
    make_medications,
    make_patients,
    stream,
)
from mesoclinic.demo.history import ARMS, COURSES_PER_FORMULA, PATIENT_NOTE
from mesoclinic.evidence.models import AlertContact, OutbreakAlert
from mesoclinic.followup.models import AdverseEvent, FollowUp
from mesoclinic.formulas import services
from mesoclinic.formulas.models import (
    Formula,
    FormulaComponent,
    FormulaVersion,
    Lot,
    LotStatus,
    LotUse,
    Product,
    ProductIngredient,
    RecallContact,
)
from mesoclinic.outcomes.models import Measurement
from mesoclinic.patients.models import (
    Allergy,
    Condition,
    ConditionKind,
    Medication,
    Patient,
    PortalAccount,
    Sex,
    phone_digits,
)
from mesoclinic.screening.models import Prescription, Screening

TODAY = date(2026, 3, 14)
# Every model the demo fills, parents before children. Add new kinds of record here.
DEMO_MODELS: list[type[Model]] = [
    Clinic,
    User,
    TOTPDevice,
    Licence,
    Patient,
    Medication,
    Allergy,
    Condition,
    Product,
    ProductIngredient,
    Lot,
    Formula,
    Formula.indications.through,
    Formula.areas.through,
    FormulaVersion,
    FormulaComponent,
    LotUse,
    RecallContact,
    Room,
    WorkingHours,
    Leave,
    CoursePlan,
    CoursePlan.areas.through,
    ConcurrentTreatment,
    Appointment,
    MaintenanceRecall,
    Screening,
    Chart,
    Syringe,
    SyringeLot,
    AreaTreatment,
    InjectionPoint,
    ChartPhoto,
    ChartAmendment,
    PortalAccount,
    Prescription,
    FollowUp,
    AdverseEvent,
    Measurement,
    OutbreakAlert,
    AlertContact,
]
# Columns that differ between two builds of the same data: creation times, salted hashes,
# and the moments services stamp with the clock (first use of a version, a recall, a call,
# the day a course is completed, when a screening ran, a chart was signed and a side effect's
# cause assessed), a signed chart's hash (which covers primary keys) and a photo's file name
# (random).
VOLATILE_FIELDS = {
    "password",
    "last_login",
    "date_joined",
    "recorded_at",
    "used_at",
    "status_changed_at",
    "updated_at",
    "completed_on",
    "run_at",
    "signed_at",
    "causality_at",
    "content_sha256",
    "image",
}
ATC_BY_NAME = {name: drug.atc for drug in DRUGS for name in drug.names}
NSAID_ATC_PREFIXES = ("M01A", "N02BA")


# A signed chart's lot use names the chart by its primary key.
CHART_REFERENCE = re.compile(r"^Chart (\d+),")
# An outbreak alert's key names a lot, or a lot and the line that opened a vial, by primary
# key; a day's or an injector's key names no row.
ALERT_KEY = re.compile(r"(\d+)(?:-(\d+))?")


def canonical_dump() -> dict[str, list[tuple[Any, ...]]]:
    """Every demo row, in creation order, without primary keys or volatile columns; a
    foreign key becomes the position of the row it points to, and so do the chart a lot
    use's reference names and the lot (and vial) an outbreak alert's key names."""
    positions = {
        model._meta.label: {
            pk: i
            for i, pk in enumerate(
                model._default_manager.order_by("pk").values_list("pk", flat=True)
            )
        }
        for model in DEMO_MODELS
    }

    def canonical(field: Field[Any, Any], value: Any) -> Any:
        label = field.target_field.model._meta.label if isinstance(field, ForeignKey) else ""
        if value is not None and label in positions:
            return positions[label][value]
        if field.model is LotUse and field.name == "reference":
            charts = positions["charts.Chart"]
            return CHART_REFERENCE.sub(lambda m: f"Chart #{charts[int(m[1])]},", value)
        alert_key = field.model is OutbreakAlert and field.name == "key"
        if alert_key and (match := ALERT_KEY.fullmatch(value)):
            lot, opening = match.groups()
            lines = positions["charts.SyringeLot"]
            vial = f" vial #{lines[int(opening)]}" if opening else ""
            return f"Lot #{positions['formulas.Lot'][int(lot)]}{vial}"
        return value

    dump = {}
    for model in DEMO_MODELS:
        fields = [
            f
            for f in model._meta.concrete_fields
            if not f.primary_key
            and f.name not in VOLATILE_FIELDS
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
        ]
        rows = model._default_manager.order_by("pk").values_list(*(f.attname for f in fields))
        dump[model._meta.label] = [
            tuple(canonical(f, value) for f, value in zip(fields, row, strict=True)) for row in rows
        ]
    return dump


def built_and_undone(seed: int, patients: int) -> dict[str, list[tuple[Any, ...]]]:
    """The canonical dump of a demo build, which is then rolled back: the build writes to the
    audit log, which nothing may delete."""
    with transaction.atomic():
        build_demo(seed=seed, patients=patients, today=TODAY)
        dump = canonical_dump()
        transaction.set_rollback(True)
    return dump


def draw(seed: int, count: int, today: date = TODAY) -> list[tuple[Patient, list[Medication]]]:
    """The demo's patients and medications without a database."""
    clinic = Clinic(name="Draw", slug="draw")
    patients = make_patients(stream(seed, "patients"), clinic, count, today)
    rng = stream(seed, "medications")
    return [(p, make_medications(rng, p, today)) for p in patients]


def fingerprint(drawn: list[tuple[Patient, list[Medication]]]) -> str:
    text = repr(
        [
            (
                p.given_name,
                p.family_name,
                p.date_of_birth,
                p.sex,
                p.phone,
                p.email,
                p.preferred_language,
                [(m.name, m.dose, m.started, m.stopped, m.last_dose_taken) for m in meds],
            )
            for p, meds in drawn
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.django_db
def test_the_same_seed_and_today_give_identical_records(catalogue: None) -> None:
    first = built_and_undone(seed=7, patients=60)
    assert not Clinic.objects.exists()
    assert built_and_undone(seed=7, patients=60) == first
    # And the Paris clinic's former patients, one a course of its synthetic history.
    assert len(first["patients.Patient"]) == 60 + len(ARMS) * COURSES_PER_FORMULA
    for model in DEMO_MODELS:
        assert first[model._meta.label], model._meta.label
    # Staff have an authenticator; the portal's patients sign in without one.
    assert len(first["otp_totp.TOTPDevice"]) == len(first["clinics.User"]) - len(
        first["patients.PortalAccount"]
    )


def test_records_do_not_depend_on_the_process_hash_seed() -> None:
    # Benchmarks and bug reports rebuild the demo in another process: nothing may hang on
    # set or dict ordering that PYTHONHASHSEED changes.
    code = (
        "import django; django.setup();"
        "from mesoclinic.demo.tests.test_generator import draw, fingerprint;"
        "print(fingerprint(draw(11, 80)))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mesoclinic.settings", "PYTHONHASHSEED": "12345"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == fingerprint(draw(11, 80))


def test_a_different_seed_gives_different_patients() -> None:
    names = [
        [(p.given_name, p.family_name, p.date_of_birth) for p, _ in draw(seed, 30)]
        for seed in (1, 2)
    ]
    assert names[0] != names[1]


def test_the_population_looks_like_an_aesthetic_clinics() -> None:
    drawn = draw(DEFAULT_SEED, 2000)
    ages = [p.age_on(TODAY) for p, _ in drawn]
    assert min(ages) >= MIN_AGE and max(ages) <= MAX_AGE
    assert 40 <= statistics.median(ages) <= 50
    assert sum(30 <= a < 60 for a in ages) / len(ages) > 0.6
    assert 0.75 < sum(p.sex == Sex.FEMALE for p, _ in drawn) / len(drawn) < 0.9
    assert 0.6 < sum(p.preferred_language == "fr" for p, _ in drawn) / len(drawn) < 0.8
    assert len({p.email for p, _ in drawn if p.email}) == sum(1 for p, _ in drawn if p.email)
    atcs = [ATC_BY_NAME[m.name] for _, meds in drawn for m in meds]
    # Antithrombotics are rare, but a clinic of 2000 has several; the pill is common.
    assert 10 < sum(a.startswith("B01") for a in atcs) < 200
    assert sum(a == "G03AA07" for a in atcs) > 200


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    count=st.integers(min_value=1, max_value=25),
)
def test_drawn_records_are_plausible(seed: int, today: date, count: int) -> None:
    for patient, medications in draw(seed, count, today):
        assert MIN_AGE <= patient.age_on(today) <= MAX_AGE
        assert patient.preferred_language in ("en", "fr")
        assert patient.phone.startswith(("+33 6 39 98 ", "+44 7700 900"))
        if patient.email:
            local, domain = patient.email.split("@")
            assert domain in RESERVED_EMAIL_DOMAINS
            assert local.isascii() and local
        assert patient.given_name and patient.family_name
        for m in medications:
            assert m.started is not None
            assert patient.date_of_birth < m.started <= today
            if m.stopped is not None:
                assert m.started <= m.stopped <= today
                assert m.last_dose_taken == m.stopped
            if m.last_dose_taken is not None:
                assert m.started <= m.last_dose_taken <= today


@pytest.mark.django_db
def test_the_default_demo_has_patients_to_screen(catalogue: None) -> None:
    build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)
    week_ago = TODAY - timedelta(days=7)
    nsaid_names = [n for n, atc in ATC_BY_NAME.items() if atc.startswith(NSAID_ATC_PREFIXES)]
    nsaid = Medication.objects.filter(name__in=nsaid_names)
    recent = nsaid.filter(last_dose_taken__gte=week_ago).values("patient").distinct()
    assert recent.count() >= 3
    # ... and patients whose NSAID is older than the pre-care window, who must not be blocked.
    assert nsaid.filter(last_dose_taken__lt=week_ago).exists()
    assert Patient.objects.exclude(notes=PATIENT_NOTE).count() == DEFAULT_PATIENTS


@pytest.mark.django_db
def test_ages_are_within_range_and_emails_on_reserved_domains(catalogue: None) -> None:
    build_demo(seed=3, patients=200, today=TODAY)
    for patient in Patient.objects.all():
        assert MIN_AGE <= patient.age_on(TODAY) <= MAX_AGE
    emails = [
        *Patient.objects.exclude(email="").values_list("email", flat=True),
        *User.objects.values_list("email", flat=True),
        *Clinic.objects.values_list("email", flat=True),
    ]
    assert len(emails) > 150
    assert all(email.rsplit("@", 1)[1] in RESERVED_EMAIL_DOMAINS for email in emails)


@pytest.mark.django_db
def test_two_clinics_with_staff_of_every_role_and_authenticators(catalogue: None) -> None:
    build_demo(seed=7, patients=30, today=TODAY)
    clinics = list(Clinic.objects.order_by("slug"))
    assert [c.time_zone for c in clinics] == ["Europe/Paris", "Europe/London"]
    roles = {Role.ADMIN, Role.PRACTITIONER, Role.ASSISTANT, Role.RESEARCHER}
    for clinic in clinics:
        staff = clinic.users.exclude(role=Role.PATIENT)
        assert set(staff.values_list("role", flat=True)) == roles
    patients = User.objects.filter(role=Role.PATIENT)
    assert patients.exists() and not TOTPDevice.objects.filter(user__in=patients).exists()
    for user in User.objects.exclude(role=Role.PATIENT):
        device = TOTPDevice.objects.get(user=user)
        assert device.confirmed and device.key == totp_key(7, user.username)
    assert totp_key(7, "admin") != totp_key(8, "admin") != totp_key(8, "dr.moreau")


@pytest.mark.django_db
def test_every_practitioner_has_a_verified_licence_one_expiring_one_expired(
    catalogue: None,
) -> None:
    build_demo(seed=7, patients=0, today=TODAY)
    practitioners = User.objects.filter(role=Role.PRACTITIONER)
    assert practitioners.count() == 5
    for practitioner in practitioners:
        licence = Licence.objects.get(practitioner=practitioner)
        assert licence.verified_by.role == Role.ADMIN  # type: ignore[union-attr]
        assert licence.verified_by.clinic == practitioner.clinic  # type: ignore[union-attr]
    expiring, expired = [], []
    for clinic in Clinic.objects.all():
        alerts = licence_alerts(Licence.objects.filter(practitioner__clinic=clinic), TODAY)
        expiring += [lic.practitioner.username for lic in alerts.expiring]
        expired += [lic.practitioner.username for lic in alerts.expired]
    assert expiring == ["dr.okafor"] and expired == ["dr.hughes"]
    ok = {p.username: licence_check(p, TODAY).ok for p in practitioners}
    assert ok == {
        "dr.moreau": True,
        "dr.lefebvre": True,
        "dr.okafor": True,
        "dr.patel": True,
        "dr.hughes": False,
    }


@pytest.mark.django_db
def test_patients_in_both_clinics_with_allergies_and_conditions(catalogue: None) -> None:
    build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)
    london = Patient.objects.filter(clinic__slug="demo-london")
    assert london.count() == DEFAULT_PATIENTS // 3
    assert london.filter(preferred_language="en").count() > london.count() * 0.7
    assert all(
        p.phone_digits == phone_digits(p.phone) and p.phone_digits for p in Patient.objects.all()
    )
    assert Allergy.objects.filter(substance="Lidocaine").exists()
    assert Allergy.objects.values("patient__clinic").distinct().count() >= 1
    kinds = set(Condition.objects.values_list("kind", flat=True))
    assert {ConditionKind.PREGNANCY, ConditionKind.BLEEDING_DISORDER, ConditionKind.SKIN} <= kinds
    for pregnancy in Condition.objects.filter(kind=ConditionKind.PREGNANCY):
        assert pregnancy.patient.sex == Sex.FEMALE and pregnancy.active_on(TODAY)
    assert all(c.body_area is not None for c in Condition.objects.filter(kind=ConditionKind.SKIN))


def test_small_demos_still_have_one_condition_of_each_kind() -> None:
    clinic = Clinic(name="Draw", slug="draw")
    patients = make_patients(stream(3, "patients"), clinic, 5, TODAY)
    for i, patient in enumerate(patients):
        patient.sex, patient.date_of_birth = Sex.FEMALE, date(1990, 1, 1 + i)
    conditions = make_conditions(stream(3, "conditions"), patients, TODAY, {})
    assert {c.kind for c in conditions} == {
        ConditionKind.PREGNANCY,
        ConditionKind.BLEEDING_DISORDER,
        ConditionKind.SKIN,
    }
    assert [a.substance for a in make_allergies(stream(3, "allergies"), patients)] == ["Lidocaine"]
    assert make_conditions(stream(3, "conditions"), [], TODAY, {}) == []


LIBRARY_INDICATIONS = ("localised-fat", "cellulite", "dull-skin", "pigmentation", "alopecia")


@pytest.mark.django_db
def test_each_clinic_has_a_formula_library_with_lot_history(catalogue: None) -> None:
    build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)
    for clinic in Clinic.objects.all():
        formulas = Formula.objects.filter(clinic=clinic)
        for code in LIBRARY_INDICATIONS:
            authors = set(formulas.filter(indications__code=code).values_list("author", flat=True))
            assert len(authors) >= 2, (clinic.slug, code)
        contents = {
            f.name: {line.ingredient.name for line in services.composition(f.current_version)}
            for f in formulas
        }
        hair = [contents[f.name] for f in formulas.filter(indications__code="alopecia")]
        assert any({"Minoxidil"} <= names for names in hair)
        assert any("Saw palmetto extract" in names and "Minoxidil" not in names for names in hair)
        face = [contents[f.name] for f in formulas.filter(indications__code="dull-skin")]
        assert any({"Hyaluronic acid", "Ascorbic acid"} <= names for names in face)

        products = Product.objects.filter(clinic=clinic)
        assert all(p.regulatory_status and p.manufacturer for p in products)
        lots = Lot.objects.filter(product__clinic=clinic)
        assert all(lot.received_on < TODAY for lot in lots)
        near = [lot for lot in lots if TODAY <= lot.expiry_date <= TODAY + timedelta(days=30)]
        assert len(near) == 1 and near[0].status == LotStatus.ACTIVE

        [recalled] = lots.filter(status=LotStatus.RECALLED)
        assert recalled.status_reason
        uses = LotUse.objects.filter(lot=recalled)
        assert uses and all(use.reference == HISTORY_REFERENCE for use in uses)
        assert all(use.used_on.date() < TODAY for use in uses)
        contacts = RecallContact.objects.filter(lot=recalled)
        assert {c.patient_id for c in contacts} == {use.patient_id for use in uses}

        [edited] = [f for f in formulas if f.versions.count() == 2]
        first, second = edited.versions.order_by("number")
        assert first.is_used and first.lot_uses.exists() and not second.is_used
        assert services.components_of(first) != services.components_of(second)


@pytest.mark.django_db
def test_a_demo_without_patients_still_has_its_library(catalogue: None) -> None:
    summary = build_demo(seed=3, patients=0, today=TODAY)
    assert summary.formulas == Formula.objects.count() == 20
    assert Lot.objects.filter(status=LotStatus.RECALLED).count() == 2
    assert not LotUse.objects.exists() and not RecallContact.objects.exists()
    assert FormulaVersion.objects.filter(number=2).count() == 2


@pytest.mark.django_db
def test_the_demo_needs_the_catalogue() -> None:
    with pytest.raises(MissingCatalogue, match="run `mesoclinic load_catalogue` first"):
        build_demo(seed=3, patients=5, today=TODAY)
    with pytest.raises(CommandError, match="needs the catalogue"):
        call_command("seed_demo", patients=5)
    assert not Clinic.objects.exists() and not User.objects.exists()
