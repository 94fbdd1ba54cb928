"""The de-identified research export: nothing that names anyone leaves, dates move together,
ages are bands, small cells are suppressed, CSV and Parquet agree, exports cannot be linked,
and one clinic's export holds nothing of another's."""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import plans
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.evidence import research_export as rx
from mesoclinic.evidence.research_export import (
    SUPPRESSED,
    Pseudonymiser,
    age_band,
    build_export,
    csv_text,
    suppress_small_cells,
)
from mesoclinic.evidence.testing import Registry, RegistrySpec, build_registry
from mesoclinic.followup import services as followup
from mesoclinic.followup.models import EventOutcome, Reporter
from mesoclinic.followup.services import EventSpec
from mesoclinic.formulas.models import FormulaVersion, Lot
from mesoclinic.outcomes import services as outcomes
from mesoclinic.outcomes.models import Rater
from mesoclinic.patients.models import Patient, Sex
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.screening.tests.conftest import compounded

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
HEX_ID = re.compile(r"^[0-9a-f]{16}$")
ID_COLUMNS = ("course_id", "patient_id", "practitioner_id", "formula_id", "site_series")
ID_LIST_COLUMNS = ("product_ids", "lot_ids")

# Free text written into the source rows, each of which must stay out of the export.
PLANTED = {
    "patient_notes": "Allergic to the neighbour's cat, Mrs Quillfeather says",
    "goals": "Look rested for the Van Oosterhout wedding",
    "adjustment": "Fewer sessions: travelling to Ouagadougou",
    "chart_notes": "Patient anxious about the Brackenbury trial",
    "reactions": "Erythema near the Pemberton birthmark",
    "aftercare": "Call Dr Szczepanski if it worsens",
    "anaesthetic": "Emla from the Rue Mouffetard pharmacy",
    "injector": "INJ-SERIAL-55291",
    "site": "left crow's feet by the Lindqvist scar",
    "measure_note": "Measured by the window, Kowalczyk present",
    "treatment": "Arnica from the Hartigan shop",
    "event_notes": "Phoned from her office at Fenwick & Daughters",
    "organism": "Staphylococcus epidermidis per Labo Vauquelin",
    "other": "Itchy blotch described by Gwendolyn",
    "formula": "Zephyr Glow",
    "product": "Velvet Carnitine",
    "lot": "LOT-QX7781",
    "formula_b": "Harbour Mix",
}


@dataclass
class Planted:
    """What the source data holds, for the scans and the checks."""

    patient: Patient
    plan: CoursePlan
    charts: list[Chart]
    crowd: list[CoursePlan]  # courses of women of one age band: a cell of K_ANONYMITY or more
    rare: CoursePlan  # the course of an old man, alone in his cell
    plan_b: CoursePlan
    staff: list[User]
    patients: list[Patient]


def _rename(user: User, first: str, last: str) -> User:
    User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
    user.refresh_from_db()
    return user


def _plan(
    patient: Patient, practitioner: User, indication: str, version: FormulaVersion
) -> CoursePlan:
    return plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code=indication),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        areas=BodyArea.objects.filter(code__in=["forehead"]),
        formula_version=version,
        actor=practitioner,
    )


def _signed(plan: CoursePlan, staff: User, lot: Lot, days_ago: int, number: int) -> Chart:
    """Session ``number`` of ``plan``, ``days_ago`` days ago, its chart full of free text."""
    appointment = ready_session(plan, staff, session_number=number)
    starts_at = timezone.now().replace(microsecond=0) - timedelta(days=days_ago, minutes=30)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
    )
    appointment.refresh_from_db()
    practitioner = plan.practitioner
    chart = charts.start_chart(appointment, practitioner)
    spec = simple_draft(chart, lot)
    spec.notes = PLANTED["chart_notes"]
    spec.immediate_reactions = PLANTED["reactions"]
    spec.aftercare_given = PLANTED["aftercare"]
    spec.anaesthetic_product = PLANTED["anaesthetic"]
    spec.syringes[0].injector_id = PLANTED["injector"]
    charts.save_draft(chart, spec, practitioner)
    return charts.sign_as(chart, practitioner)


def plant_registry(clinic_a: Clinic, alice: User, pat: User, asha: User, bob: User) -> Planted:
    """Clinic A: Camille's course with two signed sessions, measurements and adverse events,
    every free-text field filled; five women in their forties with a course each; one man
    over seventy with a course. Clinic B: Oliver's course. The catalogue must be loaded."""
    staff = [
        _rename(alice, "Wilhelmina", "Fairweather"),
        _rename(make_bookable(pat, alice), "Peregrine", "Thistlewood"),
        _rename(asha, "Ottoline", "Marchbanks"),
        _rename(make_bookable(bob, bob), "Barnaby", "Ravensworth"),
    ]
    pat, bob = staff[1], staff[3]
    patient = make_patient(asha, sex=Sex.FEMALE, notes=PLANTED["patient_notes"])
    version = compounded(pat, PLANTED["formula"], ("Hyaluronic acid", "0.5"), ("Biotin", "0.5"))
    lot = stock_lot(clinic_a, pat, name=PLANTED["product"], number=PLANTED["lot"])
    plan = _plan(patient, pat, "wrinkles-and-lines", version)
    CoursePlan.objects.filter(pk=plan.pk).update(
        goals=PLANTED["goals"], adjustment_reason=PLANTED["adjustment"]
    )
    tz = clinic_a.tz
    outcomes.record_measurement(
        plan,
        plan.indication.primary_scale,
        "3",
        timezone.now() - timedelta(days=25),
        Rater.PRACTITIONER,
        pat,
        asha,
        site=PLANTED["site"],
        note=PLANTED["measure_note"],
    )
    first = _signed(plan, asha, lot, days_ago=20, number=1)
    second = _signed(plan, asha, lot, days_ago=6, number=2)
    outcomes.record_measurement(
        plan,
        plan.indication.primary_scale,
        "2",
        timezone.now() - timedelta(days=2),
        Rater.PRACTITIONER,
        pat,
        asha,
        site=PLANTED["site"],
        note=PLANTED["measure_note"],
    )
    first_day = timezone.localdate(first.appointment.starts_at, tz)
    followup.report_event(
        first,
        EventSpec(
            onset_on=first_day + timedelta(days=1),
            grade=2,
            side_effect="bruising",
            body_area="forehead",
            treatment=PLANTED["treatment"],
            outcome=EventOutcome.RESOLVED,
            resolved_on=first_day + timedelta(days=4),
            notes=PLANTED["event_notes"],
        ),
        asha,
        Reporter.STAFF,
    )
    followup.report_event(
        second,
        EventSpec(
            onset_on=timezone.localdate(second.appointment.starts_at, tz) + timedelta(days=3),
            grade=3,
            side_effect="infection",
            organism=PLANTED["organism"],
            notes=PLANTED["event_notes"],
        ),
        asha,
        Reporter.STAFF,
    )
    followup.report_event(
        second,
        EventSpec(
            onset_on=timezone.localdate(second.appointment.starts_at, tz),
            grade=1,
            other_description=PLANTED["other"],
        ),
        asha,
        Reporter.STAFF,
    )
    today = clinic_a.today()
    women = [
        make_patient(
            asha,
            given_name=f"Aurelia{n}",
            family_name=f"Montgomery{n}",
            email=f"aurelia{n}@example.org",
            phone=f"+33 6 98 76 54 3{n}",
            sex=Sex.FEMALE,
            date_of_birth=date(today.year - 45, 1 + n, 10),
        )
        for n in range(5)
    ]
    crowd = [_plan(woman, pat, "wrinkles-and-lines", version) for woman in women]
    man = make_patient(
        asha,
        given_name="Bartholomew",
        family_name="Oyelaran",
        email="b.oyelaran@example.org",
        phone="06 55 44 33 22",
        sex=Sex.MALE,
        date_of_birth=date(today.year - 74, 6, 1),
    )
    rare = _plan(man, pat, "wrinkles-and-lines", version)
    patient_b = make_patient(
        bob,
        given_name="Oliver",
        family_name="Hughes",
        phone="07700 900123",
        email="oliver.hughes@example.co.uk",
        date_of_birth=date(1975, 8, 9),
    )
    version_b = compounded(bob, PLANTED["formula_b"], ("Hyaluronic acid", "0.5"))
    plan_b = _plan(patient_b, bob, "alopecia", version_b)
    return Planted(
        patient=patient,
        plan=plan,
        charts=[first, second],
        crowd=crowd,
        rare=rare,
        plan_b=plan_b,
        staff=staff,
        patients=[patient, *women, man, patient_b],
    )


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


# --- reading an export back -------------------------------------------------------------------


def read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    with archive.open(name) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def read_parquet(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    with archive.open(name) as raw:
        return pq.read_table(io.BytesIO(raw.read())).to_pylist()


def tables_of(content: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {t.name: read_csv(archive, f"{t.name}.csv") for t in rx.dictionary()}


def every_text(content: bytes) -> str:
    """Every file of the export as text: CSV and README as written, each Parquet cell
    stringified, and the Parquet files' metadata."""
    parts = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.endswith(".parquet"):
                with archive.open(name) as raw:
                    table = pq.read_table(io.BytesIO(raw.read()))
                parts.append(str(table.schema))
                parts.extend(str(cell) for row in table.to_pylist() for cell in row.values())
            else:
                parts.append(archive.read(name).decode("utf-8"))
    return "\n".join(parts)


def identifiers(planted: Planted) -> list[str]:
    """Every direct identifier and free text of the source rows."""
    found = list(PLANTED.values())
    for patient in planted.patients:
        found += [
            patient.given_name,
            patient.family_name,
            str(patient),
            patient.email,
            patient.phone,
            patient.phone_digits,
            patient.date_of_birth.isoformat(),
            patient.date_of_birth.strftime("%d/%m/%Y"),
        ]
    for user in planted.staff:
        found += [user.username, user.first_name, user.last_name, user.get_full_name()]
    found += [clinic.name for clinic in Clinic.objects.all()]
    return [value for value in found if value]


# --- nothing identifying leaves ---------------------------------------------------------------


def test_the_export_holds_no_name_contact_birth_date_or_free_text(planted: Planted) -> None:
    clinics = list(Clinic.objects.values_list("pk", flat=True))

    content = build_export(clinics, key=KEY)
    text = every_text(content).casefold()

    leaked = [value for value in identifiers(planted) if value.casefold() in text]
    assert leaked == []
    # The scan read real data: every table has rows, and the export is of both clinics.
    counts = {name: len(rows) for name, rows in tables_of(content).items()}
    assert counts == {"courses": 8, "sessions": 2, "measurements": 2, "adverse_events": 3}


def test_every_id_is_a_pseudonym_and_no_database_id_leaves(planted: Planted) -> None:
    content = build_export([planted.plan.clinic_id], key=KEY)
    p = Pseudonymiser(KEY)

    for rows in tables_of(content).values():
        for row in rows:
            for column in ID_COLUMNS:
                if row.get(column):
                    assert HEX_ID.match(row[column]), (column, row[column])
            for column in ID_LIST_COLUMNS:
                if column in row:
                    assert all(HEX_ID.match(value) for value in row[column].split(";"))
    courses = tables_of(content)["courses"]
    assert {row["course_id"] for row in courses} == {
        p.id("course", pk)
        for pk in CoursePlan.objects.filter(clinic_id=planted.plan.clinic_id).values_list(
            "pk", flat=True
        )
    }


def test_the_tables_carry_what_the_source_recorded(planted: Planted) -> None:
    p = Pseudonymiser(KEY)
    tables = tables_of(build_export([planted.plan.clinic_id], key=KEY))
    course = p.id("course", planted.plan.pk)

    (camille,) = [row for row in tables["courses"] if row["course_id"] == course]
    sessions = sorted(
        (row for row in tables["sessions"] if row["course_id"] == course),
        key=lambda row: row["session_number"],
    )
    events = sorted(tables["adverse_events"], key=lambda row: row["side_effect"])

    assert camille["indication"] == "wrinkles-and-lines"
    assert camille["formula_version"] == "1"
    assert camille["sessions_signed"] == "2"
    assert camille["status"] == CoursePlan.objects.get(pk=planted.plan.pk).status
    assert camille["practitioner_id"] == p.id("staff", planted.staff[1].pk)
    assert camille["ingredient_classes"]  # catalogue codes of hyaluronic acid and biotin
    assert [row["session_number"] for row in sessions] == ["1", "2"]
    assert sessions[0]["techniques"] == "papule"
    assert sessions[0]["body_areas"] == "forehead"
    assert sessions[0]["devices"] == "syringe"
    assert sessions[0]["volume_ml"] == "2.00"
    assert sessions[0]["injection_points"] == "20"
    assert sessions[0]["anaesthetic_cream"] == "true"
    assert sessions[0]["lot_ids"] == p.id("lot", planted.charts[0].syringes.get().lots.get().lot_id)
    assert [row["side_effect"] for row in events] == ["bruising", "infection", "other"]
    assert [row["session_number"] for row in events] == ["1", "2", "2"]
    assert [row["days_to_onset"] for row in events] == ["1", "3", "0"]
    assert [row["days_to_resolution"] for row in events] == ["3", "", ""]
    assert [row["grade"] for row in events] == ["2", "3", "1"]
    assert {row["scale"] for row in tables["measurements"]} == {"lemperle"}
    # Both measurements are at the same site: one series, whose text stays behind.
    assert len({row["site_series"] for row in tables["measurements"]}) == 1


# --- dates, ages, small cells -----------------------------------------------------------------


def test_each_patient_s_dates_move_together_so_intervals_are_kept(planted: Planted) -> None:
    p = Pseudonymiser(KEY)
    tables = tables_of(build_export([planted.plan.clinic_id], key=KEY))
    tz = planted.plan.clinic.tz
    patient = p.id("patient", planted.patient.pk)

    real_sessions = [timezone.localdate(c.appointment.starts_at, tz) for c in planted.charts]
    real_measured = sorted(
        timezone.localdate(m.measured_at, tz) for m in planted.plan.measurements.all()
    )
    shifted_sessions = sorted(
        date.fromisoformat(row["session_date"])
        for row in tables["sessions"]
        if row["patient_id"] == patient
    )
    shifted_measured = sorted(
        date.fromisoformat(row["measured_date"])
        for row in tables["measurements"]
        if row["patient_id"] == patient
    )
    (course,) = [row for row in tables["courses"] if row["patient_id"] == patient]
    offsets = {
        shifted - real
        for shifted, real in [
            *zip(shifted_sessions, real_sessions, strict=True),
            *zip(shifted_measured, real_measured, strict=True),
            (date.fromisoformat(course["start_date"]), real_sessions[0]),
        ]
    }

    assert offsets == {p.offset(planted.patient.pk)}
    assert abs(offsets.pop().days) <= rx.SHIFT_DAYS
    assert shifted_sessions[1] - shifted_sessions[0] == real_sessions[1] - real_sessions[0]


def test_offsets_are_per_patient_and_cover_the_range() -> None:
    p = Pseudonymiser(KEY)
    offsets = [p.offset(pk).days for pk in range(2000)]

    assert min(offsets) == -rx.SHIFT_DAYS
    assert max(offsets) == rx.SHIFT_DAYS
    assert len(set(offsets)) > 300  # not one offset for everybody
    assert offsets == [Pseudonymiser(KEY).offset(pk).days for pk in range(2000)]


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        (date(2008, 6, 2), date(2026, 6, 1), "0-19"),
        (date(2006, 6, 1), date(2026, 6, 1), "20-29"),
        (date(1980, 3, 14), date(2026, 3, 13), "40-49"),  # 45 the day before the birthday
        (date(1976, 3, 14), date(2026, 3, 13), "40-49"),
        (date(1976, 3, 14), date(2026, 3, 14), "50-59"),
        (date(1937, 1, 1), date(2026, 12, 31), "80-89"),
        (date(1936, 1, 1), date(2026, 1, 1), "90+"),
        (date(1920, 1, 1), date(2026, 1, 1), "90+"),
    ],
)
def test_age_bands(born: date, on: date, band: str) -> None:
    assert age_band(born, on) == band


def test_a_rare_combination_is_suppressed_and_a_common_one_kept(planted: Planted) -> None:
    p = Pseudonymiser(KEY)
    courses = {
        row["course_id"]: row
        for row in tables_of(build_export([planted.plan.clinic_id], key=KEY))["courses"]
    }
    clinic = p.id("clinic", planted.plan.clinic_id)

    crowd = [courses[p.id("course", plan.pk)] for plan in planted.crowd]
    rare = courses[p.id("course", planted.rare.pk)]

    assert {(row["age_band"], row["sex"], row["clinic_id"]) for row in crowd} == {
        ("40-49", "female", clinic)
    }
    assert (rare["age_band"], rare["sex"], rare["clinic_id"]) == (SUPPRESSED, SUPPRESSED, clinic)


def test_a_rare_indication_is_suppressed_though_its_age_band_and_sex_are_common(
    planted: Planted,
) -> None:
    """Five men in their seventies treated for wrinkles share a cell; the one treated for hair
    loss, of the same clinic, age band and sex, is alone in his, and his age band and sex go.
    Without the indication among the quasi-identifiers he would have hidden among the five."""
    clinic = planted.plan.clinic
    today = clinic.today()
    pat, asha = planted.staff[1], planted.staff[2]
    version = planted.plan.formula_version
    assert version is not None

    def old_man(n: int) -> Patient:
        return make_patient(
            asha,
            given_name=f"Ignatius{n}",
            family_name=f"Blackwood{n}",
            sex=Sex.MALE,
            date_of_birth=date(today.year - 75, 1 + n, 3),
        )

    wrinkles = [_plan(old_man(n), pat, "wrinkles-and-lines", version) for n in range(5)]
    hair = _plan(old_man(5), pat, "alopecia", version)
    p = Pseudonymiser(KEY)
    courses = {
        row["course_id"]: row for row in tables_of(build_export([clinic.pk], key=KEY))["courses"]
    }

    cells = {
        (row["age_band"], row["sex"], row["indication"])
        for row in (courses[p.id("course", plan.pk)] for plan in wrinkles)
    }
    assert cells == {("70-79", "male", "wrinkles-and-lines")}
    alone = courses[p.id("course", hair.pk)]
    assert (alone["age_band"], alone["sex"], alone["indication"]) == (
        SUPPRESSED,
        SUPPRESSED,
        "alopecia",
    )
    assert alone["clinic_id"] == p.id("clinic", clinic.pk)


def _rows(*cells: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of (patient, age band, sex, clinic[, indication]); the indication defaults to one."""
    return [
        {
            "patient_id": patient,
            "age_band": band,
            "sex": sex,
            "clinic_id": clinic,
            "indication": rest[0] if rest else "wrinkles",
        }
        for patient, band, sex, clinic, *rest in cells
    ]


def test_a_patient_with_a_rare_indication_is_generalised_in_every_course() -> None:
    """p0's alopecia course is alone in its cell: p0 loses age band and sex in both courses,
    her common wrinkles course too. The five other women of that cell keep theirs, as do the
    five alopecia women of the fifties: an indication's cell is counted on its own."""
    rows = _rows(
        *[(f"p{n}", "40-49", "female", "c", "wrinkles") for n in range(6)],
        ("p0", "70-79", "female", "c", "alopecia"),
        *[(f"h{n}", "50-59", "female", "c", "alopecia") for n in range(5)],
        *[(f"m{n}", "40-49", "male", "c", "wrinkles") for n in range(5)],
    )

    suppress_small_cells(rows, k=5)

    released = {(r["patient_id"], r["age_band"], r["sex"], r["indication"]) for r in rows}
    assert ("p0", SUPPRESSED, SUPPRESSED, "wrinkles") in released
    assert ("p0", SUPPRESSED, SUPPRESSED, "alopecia") in released
    assert {(f"p{n}", "40-49", "female", "wrinkles") for n in range(1, 6)} <= released
    assert {(f"h{n}", "50-59", "female", "alopecia") for n in range(5)} <= released
    assert {(f"m{n}", "40-49", "male", "wrinkles") for n in range(5)} <= released


def test_suppression_generalises_age_then_sex_and_a_patient_alike() -> None:
    common = [(f"w{n}", "40-49", "female", "c") for n in range(5)]
    # w0's second course falls in the fifties, alone: generalising w0 alike leaves the
    # forties with four women, who are generalised in turn; the five then share a cell.
    rows = _rows(
        *common,
        ("w0", "50-59", "female", "c"),
        *[(f"m{n}", "30-39", "male", "c") for n in range(5)],
        ("x", "70-79", "other", "c"),
    )

    suppress_small_cells(rows, k=5)

    released = {(row["patient_id"], row["age_band"], row["sex"]) for row in rows}
    assert {(f"w{n}", SUPPRESSED, "female") for n in range(5)} <= released
    assert {(f"m{n}", "30-39", "male") for n in range(5)} <= released
    assert ("x", SUPPRESSED, SUPPRESSED) in released


def test_suppression_leaves_no_small_cell_on_random_registries() -> None:
    """On 200 random registries: every released combination (with the indication) that still
    shows an age band or a sex has at least k patients, and each patient's rows show the
    same sex."""
    k = 5
    bands = ["20-29", "30-39", "40-49", "50-59", "60-69", "90+"]
    indications = ["wrinkles", "wrinkles", "cellulite", "alopecia"]
    for seed in range(200):
        rng = random.Random(seed)
        rows = []
        for patient in range(rng.randint(1, 60)):
            sex = rng.choice(["female", "female", "female", "male", "other"])
            clinic = rng.choice(["a", "b", "c"])
            for _ in range(rng.randint(1, 3)):
                rows.append(
                    {
                        "patient_id": str(patient),
                        "age_band": rng.choice(bands),
                        "sex": sex,
                        "clinic_id": clinic,
                        "indication": rng.choice(indications),
                    }
                )

        suppress_small_cells(rows, k=k)

        cells: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
        sexes: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            cell = (row["age_band"], row["sex"], row["indication"], row["clinic_id"])
            cells[cell].add(row["patient_id"])
            sexes[row["patient_id"]].add(row["sex"])
        for (band, sex, _indication, _clinic), patients in cells.items():
            if (band, sex) != (SUPPRESSED, SUPPRESSED):
                assert len(patients) >= k, (seed, band, sex)
        assert all(len(values) == 1 for values in sexes.values()), seed


# --- the files --------------------------------------------------------------------------------


def test_csv_and_parquet_agree_and_match_the_dictionary(planted: Planted) -> None:
    content = build_export(list(Clinic.objects.values_list("pk", flat=True)), key=KEY)

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = set(archive.namelist())
        for spec in rx.dictionary():
            from_csv = read_csv(archive, f"{spec.name}.csv")
            from_parquet = read_parquet(archive, f"{spec.name}.parquet")
            with archive.open(f"{spec.name}.parquet") as raw:
                schema = pq.read_schema(io.BytesIO(raw.read()))
            assert schema.names == list(spec.names)
            assert from_csv == [
                {name: csv_text(value) for name, value in row.items()} for row in from_parquet
            ], spec.name
        dictionary = read_csv(archive, "data_dictionary.csv")
        readme = archive.read("README.txt").decode()

    assert names == {
        *(f"{t.name}.{ext}" for t in rx.dictionary() for ext in ("csv", "parquet")),
        "data_dictionary.csv",
        "README.txt",
    }
    assert [(row["table"], row["column"]) for row in dictionary] == [
        (t.name, c.name) for t in rx.dictionary() for c in t.columns
    ]
    assert all(row["meaning"] and row["deidentified"] for row in dictionary)
    prose = " ".join(readme.split())
    for words in (
        "All dates of one patient move by the same number of days",
        f"fewer than {rx.K_ANONYMITY} patients share one combination",
        "Age band, sex, indication and clinic together could single a patient out",
        "The shift protects exact dates, not the order of patients on one lot",
        "Shared lot and product ids therefore bound how far apart two patients'",
        "they cannot show that it caused it",
    ):
        assert words in prose


def test_decimal_and_date_columns_keep_their_types_in_parquet(planted: Planted) -> None:
    content = build_export([planted.plan.clinic_id], key=KEY)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sessions = read_parquet(archive, "sessions.parquet")
        measurements = read_parquet(archive, "measurements.parquet")

    assert {row["volume_ml"] for row in sessions} == {Decimal("2.00")}
    assert all(isinstance(row["session_date"], date) for row in sessions)
    assert sorted(row["value"] for row in measurements) == [Decimal("2.000"), Decimal("3.000")]


def test_an_empty_registry_exports_empty_tables(db: None) -> None:
    tables = tables_of(build_export([], key=KEY))

    assert tables == {t.name: [] for t in rx.dictionary()}


# --- linking ----------------------------------------------------------------------------------


def test_exports_with_different_keys_cannot_be_linked(planted: Planted) -> None:
    clinics = list(Clinic.objects.values_list("pk", flat=True))
    one, again, other = (tables_of(build_export(clinics, key=key)) for key in (KEY, KEY, OTHER_KEY))

    assert one == again  # the same key reproduces the export
    for name, rows in one.items():
        for column in ("course_id", "patient_id"):
            assert not {row[column] for row in rows} & {row[column] for row in other[name]}
    # The dates moved by other offsets too.
    assert {row["start_date"] for row in one["courses"]} != {
        row["start_date"] for row in other["courses"]
    }


def test_a_random_key_is_drawn_when_none_is_given(planted: Planted) -> None:
    clinic = [planted.plan.clinic_id]

    first, second = tables_of(build_export(clinic)), tables_of(build_export(clinic))

    assert not {row["course_id"] for row in first["courses"]} & {
        row["course_id"] for row in second["courses"]
    }


def test_one_clinic_s_export_holds_nothing_of_another(planted: Planted) -> None:
    p = Pseudonymiser(KEY)
    content = build_export([planted.plan.clinic_id], key=KEY)
    tables = tables_of(content)
    text = every_text(content)

    assert p.id("course", planted.plan_b.pk) not in text
    assert p.id("patient", planted.plan_b.patient_id) not in text
    assert p.id("clinic", planted.plan_b.clinic_id) not in text
    assert {row["indication"] for row in tables["courses"]} == {"wrinkles-and-lines"}
    assert (
        len(tables["courses"])
        == CoursePlan.objects.filter(clinic_id=planted.plan.clinic_id).count()
    )


# --- on the synthetic registry ----------------------------------------------------------------


@pytest.fixture
def registries(catalogue: None, clinic_a: Clinic, clinic_b: Clinic) -> list[Registry]:
    return [
        build_registry(clinic_a, RegistrySpec(seed=3, background_infection_rate=0.05)),
        build_registry(clinic_b, RegistrySpec(seed=4, doses_per_vial=4)),
    ]


def test_the_registry_s_export_names_nobody_and_keeps_k_and_intervals(
    registries: list[Registry],
) -> None:
    p = Pseudonymiser(KEY)
    content = build_export([r.clinic.pk for r in registries], key=KEY)
    tables = tables_of(content)
    text = every_text(content).casefold()

    direct = [clinic.name for clinic in Clinic.objects.all()]
    for registry in registries:
        for patient in registry.patients:
            direct += [
                patient.given_name,
                patient.family_name,
                str(patient),
                patient.email,
                patient.phone,
                patient.phone_digits,
                patient.date_of_birth.isoformat(),
            ]
        for user in registry.practitioners:
            direct += [user.username, user.first_name, user.last_name, user.get_full_name()]
        direct += [lot.lot_number for lot in registry.lots]
        direct += [s.injector_id for s in registry.sessions if s.injector_id]
    assert [value for value in direct if value.casefold() in text] == []
    # Formula and product names are ordinary words ("Formula A base"): matched as words.
    names = [name for r in registries for name in r.versions] + [
        f"{name} base" for r in registries for name in r.versions
    ]
    assert [n for n in names if re.search(rf"(?<!\w){re.escape(n.casefold())}(?!\w)", text)] == []

    assert len(tables["courses"]) == sum(len(r.plans) for r in registries)
    assert len(tables["sessions"]) == sum(len(r.sessions) for r in registries)
    assert len(tables["adverse_events"]) == sum(
        sum(r.side_effect_counts.values()) for r in registries
    )
    assert tables["measurements"]

    # Every cell (with the indication) still showing an age band or a sex holds at least
    # K_ANONYMITY patients.
    cells: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for row in tables["courses"]:
        cell = (row["age_band"], row["sex"], row["indication"], row["clinic_id"])
        cells[cell].add(row["patient_id"])
    assert all(
        len(patients) >= rx.K_ANONYMITY
        for (band, sex, _, _), patients in cells.items()
        if (band, sex) != (SUPPRESSED, SUPPRESSED)
    )

    # Every session's date is its real day moved by its patient's offset.
    shifted = {
        (row["course_id"], row["session_number"]): date.fromisoformat(row["session_date"])
        for row in tables["sessions"]
    }
    for registry in registries:
        for s in registry.sessions:
            key = (p.id("course", s.plan_id), str(s.number))
            assert shifted[key] == s.day + p.offset(s.patient_id)
