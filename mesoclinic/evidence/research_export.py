"""The de-identified research export: the registry's courses, sessions, measurements and
adverse events, row by row, as CSV and Parquet in one ZIP, with the data dictionary and a
README that says what was removed and why.

What leaves, and how (the dictionary, ``data/research_export.toml``, says it per column):

- No name, contact, address, date of birth, free text, staff name, lot number, product or
  formula name, or database id. Every id is a pseudonym: a keyed HMAC-SHA-256 of the id with
  a random key drawn for each export, so that two exports cannot be linked (unless a caller
  gives both the same key, which only tests do).
- Every date of a patient is shifted by one offset of that patient (-182 to +182 days, drawn
  from the key), so the intervals between a patient's dates are exact but no date is real.
  The shift hides exact dates, not who was treated around the same time: the pseudonyms of
  lots, products, formulas and practitioners are shared between patients, and a lot used for
  a few weeks bounds how far apart its patients' sessions were. The README says so; lot ids
  are kept because lot-level safety signals (a contaminated batch) are a main use of the data.
- Ages are 10-year bands on the course's start; a combination of age band, sex, indication
  and clinic that fewer than ``K_ANONYMITY`` patients share is generalised
  (``suppress_small_cells``).

The export is row-level by nature (a researcher's model fits sessions and courses), so rows
stream from the database (``values().iterator()``) straight into the files; sums per session
are grouped in the database, and the session's parts (areas, syringes, lots) are merged with
the sessions as sorted streams, never held whole. Only the courses table is held in memory,
because its suppression needs every course's quasi-identifiers before the first row is
written. No model instance is loaded, and no column that names anyone is selected.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
import tempfile
import tomllib
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, Q, Sum
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.charts.models import AreaTreatment, Chart, Syringe, SyringeLot
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.courses.models import CoursePlan
from mesoclinic.followup.models import AdverseEvent
from mesoclinic.formulas.models import FormulaComponent
from mesoclinic.outcomes.models import Measurement

# A combination of quasi-identifiers shared by fewer patients than this is generalised.
K_ANONYMITY = 5
# Each patient's dates move by one offset in [-SHIFT_DAYS, +SHIFT_DAYS].
SHIFT_DAYS = 182
SUPPRESSED = "suppressed"
# A course's cell. Generalised in this order: the age band first (it carries least), then
# sex; the indication and the clinic, last, are never generalised (see MAX_LEVEL).
QUASI_IDENTIFIERS = ("age_band", "sex", "indication", "clinic_id")
PSEUDONYM_HEX_DIGITS = 16
PARQUET_BATCH_ROWS = 50_000
DICTIONARY_FILE = Path(__file__).parent / "data" / "research_export.toml"
DICTIONARY_HEADER = ("table", "column", "type", "meaning", "unit_or_values", "deidentified")

Row = dict[str, Any]


# --- the dictionary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, list, integer, decimal, date, boolean
    meaning: str
    values: str
    deidentified: str
    places: int | None = None  # decimals only

    @property
    def type_label(self) -> str:
        if self.type == "decimal":
            return f"decimal ({self.places} places)"
        if self.type == "list":
            return "list (sorted, separated by ;)"
        return self.type

    def arrow_type(self) -> pa.DataType:
        if self.type == "decimal":
            assert self.places is not None
            return pa.decimal128(18, self.places)
        return {
            "string": pa.string(),
            "list": pa.string(),
            "integer": pa.int64(),
            "date": pa.date32(),
            "boolean": pa.bool_(),
        }[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    meaning: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(column.name, column.arrow_type()) for column in self.columns])


@cache
def dictionary() -> tuple[Table, ...]:
    data = tomllib.loads(DICTIONARY_FILE.read_text(encoding="utf-8"))
    return tuple(
        Table(
            name=table["name"],
            meaning=table["meaning"],
            columns=tuple(Column(**column) for column in table["columns"]),
        )
        for table in data["tables"]
    )


def table(name: str) -> Table:
    return next(t for t in dictionary() if t.name == name)


# --- pseudonyms, date shifts, age bands ---------------------------------------------------------


class Pseudonymiser:
    """Pseudonyms and date offsets, all derived from one key: the same key gives the same
    export, another key one that cannot be linked to it."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, message: str) -> bytes:
        return hmac.new(self._key, message.encode(), hashlib.sha256).digest()

    def id(self, kind: str, pk: int | None) -> str:
        """The pseudonym of row ``pk`` of ``kind``; empty for no row. The kind is part of the
        message, so that patient 7 and course 7 get unrelated pseudonyms."""
        if pk is None:
            return ""
        return self._mac(f"{kind}:{pk}").hex()[:PSEUDONYM_HEX_DIGITS]

    def site(self, plan_id: int, site: str) -> str:
        """The pseudonym of one measured site of one course; empty for no site."""
        return self._mac(f"site:{plan_id}:{site}").hex()[:PSEUDONYM_HEX_DIGITS] if site else ""

    def offset(self, patient_id: int) -> timedelta:
        draw = int.from_bytes(self._mac(f"shift:{patient_id}")[:8], "big")
        return timedelta(days=draw % (2 * SHIFT_DAYS + 1) - SHIFT_DAYS)

    def shifted(self, patient_id: int, day: date | None) -> date | None:
        return None if day is None else day + self.offset(patient_id)


def age_band(born: date, on: date) -> str:
    """Ten-year bands, with the under-20s and the over-90s pooled (both are rare here)."""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if age < 20:
        return "0-19"
    if age >= 90:
        return "90+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_day(moment: datetime | None, zone: str) -> date | None:
    """The day of ``moment`` in the clinic's calendar."""
    return None if moment is None else timezone.localdate(moment, _zone(zone))


# --- small-cell suppression ---------------------------------------------------------------------

# Levels of generalisation: 0 as recorded, 1 without the age band, 2 without age band and sex.
# The clinic is never generalised: its formulas, lots and practitioners are its own, so their
# pseudonyms would give it away. Nor is the indication: it is what most analyses stratify on,
# and the formulas and protocols of a course would often show it anyway. A cell of one clinic
# and indication with fewer than k patients is released with neither age band nor sex.
MAX_LEVEL = 2


def _released(row: Row, level: int) -> tuple[int, tuple[object, ...]]:
    """The row's cell at ``level``: the level, and the quasi-identifiers as released."""
    values = [SUPPRESSED if i < level else row[name] for i, name in enumerate(QUASI_IDENTIFIERS)]
    return level, tuple(values)


def suppress_small_cells(rows: list[Row], k: int = K_ANONYMITY) -> None:
    """Generalise, in place, the age band and then the sex of every row whose combination of
    quasi-identifiers (age band, sex, indication, clinic) fewer than ``k`` patients share,
    until every released combination has ``k`` patients or nothing left to generalise but the
    indication and the clinic.

    Cells are checked per row (per course): a patient with courses for two indications is in
    two cells, and each must reach ``k`` on its own. A patient's rows are then generalised
    alike, to the level the patient's smallest cell needs (a patient's sex shown in one row
    would undo its suppression in another), which can leave the cells they left smaller; so
    the rule runs again, each pass raising only the small cells of the lowest level (a cell
    still below ``k`` may yet be joined by patients raised from below). Levels only rise, so
    it ends. The set of a patient's indications is not itself a quasi-identifier: a rare
    pair (two courses, for two indications) is released if each course's cell reaches k."""
    level: dict[str, int] = defaultdict(int)
    while True:
        patients: dict[tuple[int, tuple[object, ...]], set[str]] = defaultdict(set)
        for row in rows:
            patients[_released(row, level[row["patient_id"]])].add(row["patient_id"])
        small = [
            (step, members)
            for (step, _), members in patients.items()
            if len(members) < k and step != MAX_LEVEL
        ]
        if not small:
            break
        lowest = min(step for step, _ in small)
        for step, members in small:
            if step == lowest:
                for patient in members:
                    level[patient] = max(level[patient], lowest + 1)
    for row in rows:
        for name in QUASI_IDENTIFIERS[: level[row["patient_id"]]]:
            row[name] = SUPPRESSED


# --- the tables ---------------------------------------------------------------------------------


def _codes(values: Iterable[object]) -> str:
    return ";".join(sorted({str(value) for value in values if value not in (None, "")}))


def _ingredient_classes(clinic_ids: list[int]) -> dict[int, str]:
    """Each formula version's ingredient classes: of its compounded ingredients and of the
    ingredients of its products. One row per version and class, from the database."""
    components = FormulaComponent.objects.filter(version__formula__clinic_id__in=clinic_ids)
    pairs = components.filter(ingredient__isnull=False).values_list(
        "version_id", "ingredient__ingredient_class__code"
    )
    via_products = components.filter(product__isnull=False).values_list(
        "version_id", "product__contents__ingredient__ingredient_class__code"
    )
    classes: dict[int, set[str]] = defaultdict(set)
    for version_id, code in [*pairs.distinct(), *via_products.distinct()]:
        if code:
            classes[version_id].add(code)
    return {version_id: _codes(codes) for version_id, codes in classes.items()}


def course_rows(clinic_ids: list[int], p: Pseudonymiser) -> list[Row]:
    """One row per course, suppressed; held in memory (see the module's docstring)."""
    classes = _ingredient_classes(clinic_ids)
    signed = Q(charts__signed_at__isnull=False)
    plans = (
        CoursePlan.objects.filter(clinic_id__in=clinic_ids)
        .values(
            "pk",
            "patient_id",
            "clinic_id",
            "clinic__time_zone",
            "patient__date_of_birth",
            "patient__sex",
            "indication__code",
            "formula_version_id",
            "formula_version__formula_id",
            "formula_version__number",
            "practitioner_id",
            "sessions_planned",
            "interval_days",
            "status",
            "created_at",
            "completed_on",
        )
        .annotate(
            first_session=Min("charts__appointment__starts_at", filter=signed),
            sessions_signed=Count("charts", filter=signed),
        )
        .order_by("pk")
    )
    rows = []
    for plan in plans.iterator():
        zone, patient = plan["clinic__time_zone"], plan["patient_id"]
        start = _local_day(plan["first_session"] or plan["created_at"], zone)
        assert start is not None
        rows.append(
            {
                "course_id": p.id("course", plan["pk"]),
                "patient_id": p.id("patient", patient),
                "clinic_id": p.id("clinic", plan["clinic_id"]),
                "age_band": age_band(plan["patient__date_of_birth"], start),
                "sex": plan["patient__sex"],
                "indication": plan["indication__code"],
                "formula_id": p.id("formula", plan["formula_version__formula_id"]),
                "formula_version": plan["formula_version__number"],
                "ingredient_classes": classes.get(plan["formula_version_id"], ""),
                "practitioner_id": p.id("staff", plan["practitioner_id"]),
                "sessions_planned": plan["sessions_planned"],
                "sessions_signed": plan["sessions_signed"],
                "interval_days": plan["interval_days"],
                "status": plan["status"],
                "start_date": p.shifted(patient, start),
                "completed_date": p.shifted(patient, plan["completed_on"]),
            }
        )
    suppress_small_cells(rows)
    return rows


class _Parts:
    """A stream of a session's parts sorted by chart id, read alongside the sessions (sorted
    the same way): each session takes its own rows, and the stream never goes back."""

    def __init__(self, rows: Iterator[Mapping[str, Any]]) -> None:
        self._groups = groupby(rows, key=lambda row: row["chart_id"])
        self._current = next(self._groups, None)

    def of(self, chart_id: int) -> list[Mapping[str, Any]]:
        while self._current is not None and self._current[0] < chart_id:
            self._current = next(self._groups, None)
        if self._current is None or self._current[0] != chart_id:
            return []
        rows = list(self._current[1])
        self._current = next(self._groups, None)
        return rows


def session_rows(clinic_ids: list[int], p: Pseudonymiser) -> Iterator[Row]:
    """One row per signed chart, with its areas, syringes and lots grouped per chart in the
    database (a sum per chart and technique, device or lot) and merged here."""
    charts = (
        Chart.objects.filter(clinic_id__in=clinic_ids, signed_at__isnull=False)
        .annotate(
            anaesthetic=ExpressionWrapper(~Q(anaesthetic_product=""), output_field=BooleanField())
        )
        .values(
            "pk",
            "plan_id",
            "patient_id",
            "clinic__time_zone",
            "session_number",
            "appointment__starts_at",
            "started_at",
            "ended_at",
            "practitioner_id",
            "formula_version__formula_id",
            "formula_version__number",
            "pain_score",
            "anaesthetic",
        )
        .order_by("pk")
    )
    of_signed = {"chart__clinic_id__in": clinic_ids, "chart__signed_at__isnull": False}
    areas = _Parts(
        AreaTreatment.objects.filter(**of_signed)
        .values("chart_id", "technique", "body_area__code")
        .annotate(point_total=Sum("point_count"))
        .order_by("chart_id")
        .iterator()
    )
    syringes = _Parts(
        Syringe.objects.filter(**of_signed)
        .values("chart_id", "device")
        .annotate(volume=Sum("volume_ml"))
        .order_by("chart_id")
        .iterator()
    )
    lots = _Parts(
        SyringeLot.objects.filter(**of_signed)
        .values("chart_id", "lot_id", "lot__product_id")
        .annotate(opened=Count("pk", filter=Q(opens_unit=True)))
        .order_by("chart_id")
        .iterator()
    )
    for chart in charts.iterator():
        patient = chart["patient_id"]
        its_areas, its_syringes, its_lots = (
            areas.of(chart["pk"]),
            syringes.of(chart["pk"]),
            lots.of(chart["pk"]),
        )
        volume = sum((Decimal(row["volume"]) for row in its_syringes), Decimal(0))
        yield {
            "course_id": p.id("course", chart["plan_id"]),
            "patient_id": p.id("patient", patient),
            "session_number": chart["session_number"],
            "session_date": p.shifted(
                patient, _local_day(chart["appointment__starts_at"], chart["clinic__time_zone"])
            ),
            "duration_minutes": round(
                (chart["ended_at"] - chart["started_at"]).total_seconds() / 60
            ),
            "practitioner_id": p.id("staff", chart["practitioner_id"]),
            "formula_id": p.id("formula", chart["formula_version__formula_id"]),
            "formula_version": chart["formula_version__number"],
            "techniques": _codes(row["technique"] for row in its_areas),
            "devices": _codes(row["device"] for row in its_syringes),
            "body_areas": _codes(row["body_area__code"] for row in its_areas),
            "product_ids": _codes(p.id("product", row["lot__product_id"]) for row in its_lots),
            "lot_ids": _codes(p.id("lot", row["lot_id"]) for row in its_lots),
            "opened_new_unit": any(row["opened"] for row in its_lots),
            "volume_ml": volume.quantize(Decimal("0.01")),
            "injection_points": sum(row["point_total"] for row in its_areas),
            "pain_score": chart["pain_score"],
            "anaesthetic_cream": chart["anaesthetic"],
        }


def measurement_rows(clinic_ids: list[int], p: Pseudonymiser) -> Iterator[Row]:
    """One row per current (not retracted) measurement. The site's text is read only to be
    turned into its pseudonym."""
    measurements = (
        Measurement.objects.current()
        .filter(clinic_id__in=clinic_ids)
        .values(
            "plan_id",
            "patient_id",
            "clinic__time_zone",
            "scale__code",
            "scale__variant",
            "site",
            "time_point",
            "session_number",
            "value",
            "rater",
            "measured_at",
        )
        .order_by("pk")
    )
    for row in measurements.iterator():
        patient = row["patient_id"]
        yield {
            "course_id": p.id("course", row["plan_id"]),
            "patient_id": p.id("patient", patient),
            "scale": row["scale__code"],
            "scale_variant": row["scale__variant"],
            "site_series": p.site(row["plan_id"], row["site"]),
            "time_point": row["time_point"],
            "session_number": row["session_number"],
            "value": Decimal(row["value"]).quantize(Decimal("0.001")),
            "rater": row["rater"],
            "measured_date": p.shifted(
                patient, _local_day(row["measured_at"], row["clinic__time_zone"])
            ),
        }


def adverse_event_rows(clinic_ids: list[int], p: Pseudonymiser) -> Iterator[Row]:
    """One row per adverse event not retracted; its dates only as intervals."""
    events = (
        AdverseEvent.objects.filter(clinic_id__in=clinic_ids, retracted_at__isnull=True)
        .values(
            "chart__plan_id",
            "patient_id",
            "clinic__time_zone",
            "chart__session_number",
            "chart__appointment__starts_at",
            "side_effect__code",
            "body_area__code",
            "grade",
            "serious",
            "causality",
            "outcome",
            "onset_on",
            "resolved_on",
            "day_off_work",
            "reporter",
        )
        .order_by("pk")
    )
    for row in events.iterator():
        session = _local_day(row["chart__appointment__starts_at"], row["clinic__time_zone"])
        assert session is not None
        onset, resolved = row["onset_on"], row["resolved_on"]
        yield {
            "course_id": p.id("course", row["chart__plan_id"]),
            "patient_id": p.id("patient", row["patient_id"]),
            "session_number": row["chart__session_number"],
            "side_effect": row["side_effect__code"] or "other",
            "body_area": row["body_area__code"] or "",
            "grade": row["grade"],
            "serious": row["serious"],
            "causality": row["causality"],
            "outcome": row["outcome"],
            "days_to_onset": (onset - session).days,
            "days_to_resolution": (resolved - onset).days if resolved else None,
            "day_off_work": row["day_off_work"],
            "reporter": row["reporter"],
        }


# --- the files ----------------------------------------------------------------------------------


def csv_text(value: object) -> str:
    """A cell as the CSV files write it (and as the tests compare the Parquet files)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_table(archive: zipfile.ZipFile, spec: Table, rows: Iterable[Row]) -> int:
    """Write ``rows`` as ``<table>.csv`` and ``<table>.parquet`` in one pass: the CSV into the
    archive as it comes, the Parquet into a temporary file in batches. Returns the row count."""
    expected = set(spec.names)
    schema = spec.schema()
    count = 0
    with tempfile.TemporaryFile() as parquet_file:
        writer = pq.ParquetWriter(parquet_file, schema)
        batch: dict[str, list[Any]] = {name: [] for name in spec.names}

        def flush() -> None:
            writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=schema))
            for values in batch.values():
                values.clear()

        with archive.open(f"{spec.name}.csv", "w", force_zip64=True) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out = csv.writer(text)
            out.writerow(spec.names)
            for row in rows:
                if row.keys() != expected:
                    raise ValueError(f"{spec.name}: columns {sorted(row)} are not the dictionary's")
                out.writerow([csv_text(row[name]) for name in spec.names])
                for name in spec.names:
                    batch[name].append(row[name])
                count += 1
                if count % PARQUET_BATCH_ROWS == 0:
                    flush()
            text.flush()
            text.detach()
        if count % PARQUET_BATCH_ROWS or count == 0:
            flush()
        writer.close()
        parquet_file.seek(0)
        with archive.open(f"{spec.name}.parquet", "w", force_zip64=True) as entry:
            while chunk := parquet_file.read(1 << 20):
                entry.write(chunk)
    return count


def dictionary_rows() -> list[tuple[str, ...]]:
    return [
        (spec.name, c.name, c.type_label, c.meaning, c.values, c.deidentified)
        for spec in dictionary()
        for c in spec.columns
    ]


def readme(row_counts: dict[str, int], clinics: int, generalised: int, on: date) -> str:
    counts = "\n".join(f"  {name}: {count} rows" for name, count in row_counts.items())
    return f"""\
Mesoclinic research export, {on.isoformat()}
{"=" * 44}

De-identified treatment records of {clinics} clinic(s), for research. Each table comes
twice, as CSV (UTF-8, comma-separated, header row) and as Parquet, with the same rows:

{counts}

data_dictionary.csv describes every column: its type, meaning, unit or values, and how it
was de-identified. Tables join on course_id and patient_id.

What was removed, and why
-------------------------
- Names, contact details (phone, email, address) and dates of birth of patients, and the
  names and usernames of staff: they identify people directly.
- Every free text (notes, goals, reasons, the description of an "other" side effect, the
  treatment of an event, organisms, measurement sites, anaesthetic products as typed):
  people write names, places and dates into free text, and it cannot be checked for them.
- Lot numbers, injector serial numbers, product, formula and clinic names: a lot number or
  a clinic's own formula name can point to one clinic's batch and so to its patients.
- Database ids. Every id is a pseudonym, a keyed HMAC-SHA-256 of the id with a random key
  drawn for this export and not kept: two exports cannot be linked to each other, nor an
  export to the clinic's records.
- Retracted measurements and adverse events (recorded in error).

How dates are shifted
---------------------
All dates of one patient move by the same number of days, between -{SHIFT_DAYS} and
+{SHIFT_DAYS}, drawn at random for that patient in this export. The intervals between a
patient's dates (between sessions, to a measurement, from a course's start) are exact; the
calendar dates, weekdays and seasons are not real. Times of day are not exported. Days from
a session to the onset of a side effect, and from onset to resolution, are computed before
shifting.

The shift protects exact dates, not the order of patients on one lot. Patients' offsets
differ, but the pseudonyms of lots, products, formulas and practitioners are shared between
patients, and these were in use for limited times: two patients whose sessions drew on one
lot were treated at most that lot's time in use apart (often a few weeks), whatever their
shifted dates say. Shared lot and product ids therefore bound how far apart two patients'
sessions were, and across many lots they let one rebuild roughly who was treated when,
relative to each other. Lot ids are kept nonetheless, because finding a lot that goes with
infections or reactions (a contaminated batch) is a main use of these data. Do not try to
line patients up in time, and do not publish shifted dates or lot-level timelines.

Ages and small cells
--------------------
Age is given in 10-year bands on the course's start date (under 20 and 90 or over pooled).
Age band, sex, indication and clinic together could single a patient out (in a small clinic,
the only man over 70 treated for hair loss). Each course is checked: where fewer than
{K_ANONYMITY} patients share one combination, the age band is replaced by "suppressed"; where
fewer than {K_ANONYMITY} still share it, the sex too. A patient is then treated alike in all
their courses, at the level their rarest course needs: a patient with courses for two
indications loses the age band (or the sex) in both if one course's combination is too rare.
The clinic and the indication are not suppressed: the clinic's formulas, lots and
practitioners (which are its own) would show it anyway, and the indication is what most
analyses need. So a clinic with fewer than {K_ANONYMITY} patients of one indication in the
export shows them with neither age band nor sex. {generalised} patient(s) were generalised in
this export.

What these data can and cannot show
-----------------------------------
They are observational records of clinical practice, not a trial. They can show that a
formula, a product, a lot or a technique goes together with an outcome or a side effect;
they cannot show that it caused it. Practitioners choose a formula for particular patients
(confounding by indication), patients who stop early may differ from those who finish
(selection; count missing end measurements, do not drop them), and not every side effect
is reported. Analyses should adjust for baseline and practitioner and report their
uncertainty.
"""


@dataclass(frozen=True)
class ResearchExport:
    content: bytes
    row_counts: dict[str, int]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def assemble(clinic_ids: list[int], *, key: bytes | None = None) -> ResearchExport:
    """The export of ``clinic_ids`` with its row counts; a fresh random key unless one is
    given (a given key reproduces an export: for tests only)."""
    p = Pseudonymiser(key if key is not None else secrets.token_bytes(32))
    buffer = io.BytesIO()
    row_counts: dict[str, int] = {}
    # One transaction, so that the tables are read from one state of the database.
    with transaction.atomic(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        courses = course_rows(clinic_ids, p)
        generalised = len({row["patient_id"] for row in courses if row["age_band"] == SUPPRESSED})
        producers = {
            "courses": courses,
            "sessions": session_rows(clinic_ids, p),
            "measurements": measurement_rows(clinic_ids, p),
            "adverse_events": adverse_event_rows(clinic_ids, p),
        }
        for spec in dictionary():
            row_counts[spec.name] = _write_table(archive, spec, producers[spec.name])
        with archive.open("data_dictionary.csv", "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out = csv.writer(text)
            out.writerow(DICTIONARY_HEADER)
            out.writerows(dictionary_rows())
            text.flush()
            text.detach()
        archive.writestr(
            "README.txt", readme(row_counts, len(clinic_ids), generalised, timezone.localdate())
        )
    return ResearchExport(buffer.getvalue(), row_counts)


def build_export(clinic_ids: list[int], *, key: bytes | None = None) -> bytes:
    """The ZIP of the export of ``clinic_ids`` (see ``assemble``)."""
    return assemble(clinic_ids, key=key).content


def record_export(request: HttpRequest, clinic_ids: list[int]) -> ResearchExport:
    """Build an export for the person asking, and audit it once per clinic it covers, so
    that every clinic's audit trail shows its data leaving, with the file's SHA-256."""
    export = assemble(clinic_ids)
    # With no clinic at all (an empty registry) the export is still recorded, under none.
    targets: list[int | None] = [*clinic_ids] or [None]
    for clinic_id in targets:
        audit.record(
            AuditAction.EXPORT,
            request=request,
            clinic_id=clinic_id,
            kind="research",
            clinics=len(clinic_ids),
            rows=export.row_counts,
            sha256=export.sha256,
        )
    return export
