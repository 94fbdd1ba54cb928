"""A synthetic registry with planted truth, for the tests of the evidence reports.

``build_registry(clinic, spec)`` writes courses, attended appointments, screenings, signed
charts (syringes, syringe lots, lot uses, area treatments), adverse events and outcome
measurements into ``clinic`` in a few bulk queries, and returns what was planted: each course's
true change, each session's lot, vial and device, and the infections in order of onset. The
same seed gives the same registry (the practitioners' names differ between clinics).

The world it draws from, on the indication's primary scale (``hexsel-css`` for the default
cellulite, 0 to 15 in steps of 1, lower is better):

- each course starts from ``baseline ~ N(baseline_mean, baseline_sd)``; its true change is its
  formula's ``effect`` + its practitioner's effect ``~ N(0, practitioner_sd)`` + ``N(0,
  noise_sd)``; the values recorded are rounded to the scale's step and clipped to its range.
  With the defaults clipping moves a formula's mean change by under 0.01 (the end of Formula A
  is about N(6, 2.3), 0 lies 2.6 SD below); rounding to whole points adds noise but no bias.
  A test that plants larger effects should check ``Course.recorded_change`` against
  ``Course.true_change`` or pick a wide scale (``indication="localised-fat"``: circumference,
  0 to 300 cm, with ``baseline_mean`` around 90);
- a share ``end_measured`` of courses is completed and measured at the end (14 to 28 days
  after the last session); the others stop after 1 to ``sessions_per_course - 1`` sessions
  (status stopped) and have a baseline only: the drop-outs;
- with ``gais``, the practitioner and the patient rate GAIS at the end: the true improvement
  in units of ``noise_sd`` of 2 or more reads 1 (very much improved), 1 or more 2, 0.3 or
  more 3, above -0.3 4 (no change), else 5; the patient's rating adds N(0, 0.5) to it;
- each session has each side effect of ``side_effect_rates`` with its probability, on the day,
  grade 1, resolved the next day (one in ten two to four days later);
- a session has an infection with ``background_infection_rate``, or, exposed to
  ``contaminated_lot``, with ``contaminated_rate``; onset 7 to 60 days after the session,
  grade 3, resolved 30 days after onset if that day is past. The organism is left empty, so
  that no detector can find the planted lot by it.

Sessions run every 14 days; each practitioner's courses take 30-minute slots that never
overlap (the database refuses a double booking). Each formula has one product with
``lots_per_product`` lots, used in turn: the formula's sessions in time order are split into
that many consecutive runs, one per lot. With ``doses_per_vial`` above 1 the product is a
multi-dose vial and every that many uses of a lot a new vial is opened (``opens_unit``).

Every patient has a distinct given and family name, email and phone, and the charts' notes,
the events' notes and the measurements' notes name the patient, so that a scan of an
export for identifiers has something to find.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import cast

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from mesoclinic.catalogue.models import (
    BodyArea,
    Direction,
    Indication,
    OutcomeScale,
    Protocol,
    SideEffect,
)
from mesoclinic.charts.models import AreaTreatment, Chart, Device, Syringe, SyringeLot, Technique
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
)
from mesoclinic.followup.models import AdverseEvent, Causality, EventOutcome, Grade, Reporter
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import FormulaVersion, Ingredient, Lot, LotUse, Presentation
from mesoclinic.outcomes.models import Measurement, Rater, TimePoint
from mesoclinic.outcomes.services import site_required
from mesoclinic.patients.models import Patient, Sex, phone_digits
from mesoclinic.screening.models import Outcome, Screening, Stage

INFECTION = "infection"
INTERVAL_DAYS = 14
SESSION_MINUTES = 30
# 30-minute slots from 08:00 to 18:00 on each of 14 days: the courses one practitioner can run
# at once without two sessions at the same time.
SLOTS_PER_DAY = 20
LANES = SLOTS_PER_DAY * INTERVAL_DAYS
INCUBATION_DAYS = (7, 60)
SITE = "mid-thigh, 15 cm above the patella"
SIGNED_HASH = hashlib.sha256(b"synthetic registry chart").hexdigest()
RULESET = "synthetic registry"
# A chart starts and ends this long after its appointment.
STARTS_AFTER = timedelta(minutes=2)
ENDS_AFTER = timedelta(minutes=22)


@dataclass(frozen=True)
class FormulaTruth:
    name: str
    effect: float  # true mean change from baseline on the indication's primary scale
    ingredient: str = "L-carnitine"  # a shared catalogue ingredient compounded into it


@dataclass(frozen=True)
class RegistrySpec:
    seed: int = 1
    indication: str = "cellulite"  # catalogue code; its primary scale is measured
    formulas: tuple[FormulaTruth, ...] = (
        FormulaTruth("Formula A", -2.0, ingredient="Caffeine"),
        FormulaTruth("Formula B", -1.0, ingredient="Organic silicon"),
    )
    practitioners: int = 2
    practitioner_sd: float = 0.5  # random practitioner effect added to each course's change
    noise_sd: float = 1.0
    baseline_mean: float = 8.0
    baseline_sd: float = 2.0
    courses_per_formula: int = 10
    sessions_per_course: int = 6  # every 14 days
    end_measured: float = 0.8  # share of courses with an end measurement; the rest drop out
    gais: bool = True  # practitioner- and patient-rated GAIS at the end, when end is measured
    side_effect_rates: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"bruising": 0.2, "swelling": 0.1})
    )  # per session
    lots_per_product: int = 3  # lots of each formula's product; sessions use them in turn
    doses_per_vial: int = 1  # above 1: a multi-dose vial, a new one opened every that many uses
    background_infection_rate: float = 0.0  # per session
    contaminated_lot: int | None = None  # index into Registry.lots
    contaminated_rate: float = 0.3  # per session exposed to that lot; onset 7-60 days later
    injector_share: float = 0.3  # share of sessions by injector gun, "GUN-1" or "GUN-2"
    start: date | None = None  # first session date; default: today - 200 days


@dataclass(frozen=True)
class Session:
    """One signed chart and what it exposed the patient to."""

    chart_id: int
    plan_id: int
    patient_id: int
    practitioner_id: int
    formula: str
    number: int  # session number within the course
    day: date  # in the clinic's zone
    started_at: datetime
    lot_index: int  # into Registry.lots
    vial: int  # the lot's vial, 0, 1, ... (always a new one when doses_per_vial is 1)
    device: str
    injector_id: str


@dataclass(frozen=True)
class Course:
    plan_id: int
    patient_id: int
    practitioner_id: int
    formula: str
    true_baseline: float
    true_change: float  # formula effect + practitioner effect + noise, before rounding
    baseline: Decimal  # as recorded
    end: Decimal | None  # as recorded; None for a drop-out
    gais_practitioner: int | None
    gais_patient: int | None
    sessions: int

    @property
    def recorded_change(self) -> Decimal | None:
        return None if self.end is None else self.end - self.baseline


@dataclass(frozen=True)
class Infection:
    event_id: int
    patient_id: int
    chart_id: int
    lot_index: int
    exposed_on: date  # the session's day
    onset_on: date
    planted: bool  # from the contaminated lot, not the background


@dataclass
class Registry:
    clinic: Clinic
    practitioners: list[User]
    patients: list[Patient]
    plans: list[CoursePlan]
    lots: list[Lot]  # formula by formula, each formula's lots in the order used
    versions: dict[str, FormulaVersion]  # by formula name
    chart_ids: list[int]
    spec: RegistrySpec
    scale: OutcomeScale
    practitioner_effects: dict[int, float]  # by practitioner id
    courses: list[Course]
    sessions: list[Session]  # in time order
    infections: list[Infection]  # in order of onset, then chart
    side_effect_counts: dict[str, int]  # events per side-effect code, infections included

    @property
    def infected_patient_ids(self) -> list[int]:
        """Patients with an infection, in order of onset (first infection of each)."""
        return list(dict.fromkeys(infection.patient_id for infection in self.infections))

    def exposed_patient_ids(self, lot_index: int) -> set[int]:
        return {s.patient_id for s in self.sessions if s.lot_index == lot_index}

    def sessions_of_lot(self, lot_index: int) -> list[Session]:
        return [s for s in self.sessions if s.lot_index == lot_index]


def build_registry(clinic: Clinic, spec: RegistrySpec | None = None) -> Registry:
    """Write the registry of ``spec`` into ``clinic`` (which needs the catalogue loaded).
    One registry per clinic: formula and product names are unique within a clinic."""
    spec = spec or RegistrySpec()
    _check(spec)
    with transaction.atomic():
        return _Builder(clinic, spec).build()


def _check(spec: RegistrySpec) -> None:
    if not spec.formulas or spec.courses_per_formula < 1 or spec.practitioners < 1:
        raise ValueError("A registry needs formulas, courses and practitioners.")
    if not 1 <= spec.sessions_per_course <= 20:
        raise ValueError("A course has 1 to 20 sessions.")
    if spec.lots_per_product < 1 or spec.doses_per_vial < 1:
        raise ValueError("A product needs at least one lot, and a vial at least one dose.")
    if spec.contaminated_lot is not None and not (
        0 <= spec.contaminated_lot < len(spec.formulas) * spec.lots_per_product
    ):
        raise ValueError(f"There is no lot {spec.contaminated_lot} to contaminate.")


def _on_scale(scale: OutcomeScale, value: float) -> Decimal:
    """The nearest point of the scale (counted from its minimum), within its range."""
    low, high, step = scale.min_value, scale.max_value, scale.step
    steps = ((Decimal(repr(value)) - low) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(max(low + steps * step, low), high)


def _gais(improvement: float, noise_sd: float) -> int:
    z = improvement / noise_sd
    for level, threshold in ((1, 2.0), (2, 1.0), (3, 0.3)):
        if z >= threshold:
            return level
    return 4 if z > -0.3 else 5


@contextmanager
def _own_timestamps(*model_fields: tuple[type[models.Model], str]) -> Iterator[None]:
    """Let bulk_create keep the past times given to ``auto_now_add`` fields: a registry's
    rows were written when its sessions happened, not when the test ran."""
    found = [
        cast(models.DateTimeField, model._meta.get_field(name)) for model, name in model_fields
    ]
    for each in found:
        each.auto_now_add = False
    try:
        yield
    finally:
        for each in found:
            each.auto_now_add = True


_SYLLABLES = ("zak", "vor", "quil", "brix", "tesh", "yun", "glo", "drav", "omb", "kesh", "ulv")
_ENDINGS = ("wyn", "thorpe", "vaxx", "quist", "brandt", "zell", "okko", "mirr")


def _names(rng: random.Random, count: int, taken: set[str]) -> list[tuple[str, str]]:
    """``count`` (given, family) pairs, every name distinct from every other and in ``taken``:
    made of syllables that do not occur in ordinary words, so that a scan finds only them."""
    found: list[tuple[str, str]] = []
    while len(found) < count:
        given = "".join(rng.choice(_SYLLABLES) for _ in range(3)).title()
        family = ("".join(rng.choice(_SYLLABLES) for _ in range(2)) + rng.choice(_ENDINGS)).title()
        if given in taken or family in taken:
            continue
        taken |= {given, family}
        found.append((given, family))
    return found


@dataclass(frozen=True)
class _Draw:
    """A course as drawn, before it is written."""

    formula_index: int
    truth: FormulaTruth
    practitioner: User
    baseline: float
    change: float
    held: int  # sessions held
    measured: bool  # completed and measured at the end


class _Builder:
    def __init__(self, clinic: Clinic, spec: RegistrySpec) -> None:
        self.clinic = clinic
        self.spec = spec
        self.rng = random.Random(spec.seed)  # noqa: S311 (a simulation, not a secret)
        self.tz = clinic.tz
        self.today = clinic.today()
        self.now = timezone.now()
        self.start = spec.start or self.today - timedelta(days=200)
        self.indication = Indication.objects.select_related("primary_scale").get(
            code=spec.indication
        )
        self.scale = self.indication.primary_scale
        self.gais_scale = OutcomeScale.objects.get(code="gais") if spec.gais else None
        self.area = self._area()
        self.protocol = Protocol.objects.get(code="default")
        codes = set(spec.side_effect_rates) | {INFECTION}
        self.side_effects = {s.code: s for s in SideEffect.objects.filter(code__in=codes)}
        missing = codes - set(self.side_effects)
        if missing:
            raise ValueError(f"No side effect {', '.join(sorted(missing))} in the catalogue.")

    def _area(self) -> BodyArea:
        # The area the indication is mostly treated at; any area will do for the reports.
        code = {"cellulite": "thighs", "alopecia": "scalp"}.get(self.spec.indication, "abdomen")
        return BodyArea.objects.filter(code=code).first() or BodyArea.objects.order_by("pk")[0]

    def local(self, day: date, minutes: int) -> datetime:
        return datetime.combine(day, time(8), tzinfo=self.tz) + timedelta(minutes=minutes)

    # -- dimension rows, through the services -----------------------------------------------

    def _practitioners(self) -> list[User]:
        # Their own stream: the same seed draws the same data in another clinic.
        rng = random.Random(f"{self.spec.seed}-{self.clinic.slug}")  # noqa: S311
        names = _names(rng, self.spec.practitioners, set())
        return [
            create_user(f"{given.lower()}.{family.lower()}", Role.PRACTITIONER, self.clinic)
            for given, family in names
        ]

    def _formulas(self, author: User) -> tuple[dict[str, FormulaVersion], list[Lot]]:
        carnitine = Ingredient.objects.get(clinic__isnull=True, name="L-carnitine")
        multi = self.spec.doses_per_vial > 1
        versions: dict[str, FormulaVersion] = {}
        lots: list[Lot] = []
        for truth in self.spec.formulas:
            product = formulas.create_product(
                clinic=self.clinic,
                name=f"{truth.name} base",
                manufacturer="Synthetic Pharma",
                presentation=Presentation.VIAL if multi else Presentation.AMPOULE,
                volume_ml=Decimal(5) * self.spec.doses_per_vial,
                contents=[formulas.Content(carnitine, Decimal(200), "mg/mL")],
                multi_dose=multi,
                actor=author,
            )
            formula = formulas.create_formula(
                clinic=self.clinic,
                name=truth.name,
                author=author,
                components=[
                    formulas.ComponentSpec(product=product, volume_ml=Decimal(2)),
                    formulas.ComponentSpec(
                        ingredient=Ingredient.objects.get(
                            clinic__isnull=True, name=truth.ingredient
                        ),
                        volume_ml=Decimal(1),
                        concentration=Decimal(2),
                        unit="%",
                    ),
                ],
                total_volume_ml=Decimal(4),
                indications=[self.indication],
                actor=author,
            )
            versions[truth.name] = formula.current_version
            for k in range(self.spec.lots_per_product):
                lots.append(
                    formulas.receive_lot(
                        product=product,
                        lot_number=f"{truth.name[-1]}{self.spec.seed}-{k + 1:03d}",
                        expiry_date=self.today + timedelta(days=730),
                        received_on=self.start - timedelta(days=30),
                        received_quantity=10_000,
                        actor=author,
                    )
                )
        return versions, lots

    # -- the registry -----------------------------------------------------------------------

    def build(self) -> Registry:
        spec, rng = self.spec, self.rng
        practitioners = self._practitioners()
        versions, lots = self._formulas(practitioners[0])
        effects = {p.pk: rng.gauss(0, spec.practitioner_sd) for p in practitioners}

        # Draw every course and session first (plain Python), then write them in bulk.
        drawn: list[_Draw] = []
        for _ in range(spec.courses_per_formula):
            for f, truth in enumerate(spec.formulas):
                practitioner = practitioners[len(drawn) % len(practitioners)]
                baseline = rng.gauss(spec.baseline_mean, spec.baseline_sd)
                change = truth.effect + effects[practitioner.pk] + rng.gauss(0, spec.noise_sd)
                measured = rng.random() < spec.end_measured
                held = (
                    spec.sessions_per_course
                    if measured or spec.sessions_per_course == 1
                    else rng.randint(1, spec.sessions_per_course - 1)
                )
                drawn.append(_Draw(f, truth, practitioner, baseline, change, held, measured))

        taken = {p.first_name for p in practitioners} | {p.last_name for p in practitioners}
        names = _names(rng, len(drawn), taken)
        patients = Patient.objects.bulk_create(
            Patient(
                clinic=self.clinic,
                given_name=given,
                family_name=family,
                date_of_birth=date(
                    1960 + rng.randrange(40), rng.randint(1, 12), rng.randint(1, 28)
                ),
                sex=Sex.FEMALE,
                phone=(phone := f"+44 7700 9{n:05d}"),
                phone_digits=phone_digits(phone),
                email=f"{given.lower()}.{family.lower()}@example.org",
            )
            for n, (given, family) in enumerate(names)
        )

        # Schedule: course c of a practitioner takes lane c (a day of the fortnight and a slot).
        per_practitioner: dict[int, int] = {}
        schedule = []  # per course: list of session start datetimes
        for course in drawn:
            lane = per_practitioner.get(course.practitioner.pk, 0)
            per_practitioner[course.practitioner.pk] = lane + 1
            if lane >= LANES:
                raise ValueError(
                    f"More than {LANES} courses for one practitioner: add practitioners."
                )
            first = self.start + timedelta(days=lane % INTERVAL_DAYS)
            minutes = (lane // INTERVAL_DAYS) * SESSION_MINUTES
            schedule.append(
                [
                    self.local(first + timedelta(days=INTERVAL_DAYS * j), minutes)
                    for j in range(spec.sessions_per_course)
                ]
            )
        last_day = max(starts[-1] for starts in schedule).date() + timedelta(
            days=INCUBATION_DAYS[1]
        )
        if last_day > self.today:
            raise ValueError(
                f"The registry would run to {last_day}, after today: start it earlier."
            )

        with _own_timestamps(
            (CoursePlan, "created_at"),
            (Appointment, "created_at"),
            (Chart, "created_at"),
            (LotUse, "recorded_at"),
            (AdverseEvent, "reported_at"),
            (Measurement, "recorded_at"),
        ):
            return self._write(practitioners, versions, lots, effects, drawn, patients, schedule)

    def _write(
        self,
        practitioners: list[User],
        versions: dict[str, FormulaVersion],
        lots: list[Lot],
        effects: dict[int, float],
        drawn: list[_Draw],
        patients: list[Patient],
        schedule: list[list[datetime]],
    ) -> Registry:
        spec, rng, clinic = self.spec, self.rng, self.clinic
        plans = CoursePlan.objects.bulk_create(
            CoursePlan(
                clinic=clinic,
                patient=patient,
                indication=self.indication,
                formula_version=versions[course.truth.name],
                practitioner=course.practitioner,
                protocol=self.protocol,
                sessions_planned=spec.sessions_per_course,
                interval_days=INTERVAL_DAYS,
                tolerance_days=3,
                session_minutes=SESSION_MINUTES,
                maintenance_per_year=1,
                status=CourseStatus.COMPLETED if course.measured else CourseStatus.STOPPED,
                status_reason="" if course.measured else "The patient stopped coming.",
                completed_on=starts[course.held - 1].date() if course.measured else None,
                created_by=course.practitioner,
                created_at=starts[0] - timedelta(days=7),
            )
            for patient, starts, course in zip(patients, schedule, drawn, strict=True)
        )
        CoursePlan.areas.through.objects.bulk_create(
            CoursePlan.areas.through(courseplan_id=plan.pk, bodyarea_id=self.area.pk)
            for plan in plans
        )

        # Sessions in time order, so that lots and vials are used in turn.
        rows = sorted(
            (starts[j], c, j)
            for c, (starts, course) in enumerate(zip(schedule, drawn, strict=True))
            for j in range(course.held)
        )
        appointments = Appointment.objects.bulk_create(
            Appointment(
                clinic=clinic,
                patient=patients[c],
                practitioner=drawn[c].practitioner,
                starts_at=at,
                ends_at=at + timedelta(minutes=SESSION_MINUTES),
                kind=AppointmentKind.SESSION,
                plan=plans[c],
                session_number=j + 1,
                status=AppointmentStatus.ATTENDED,
                created_by=drawn[c].practitioner,
                created_at=at - timedelta(days=7),
            )
            for at, c, j in rows
        )
        screenings = Screening.objects.bulk_create(
            Screening(
                clinic=clinic,
                patient=patients[c],
                appointment=appointment,
                plan=plans[c],
                practitioner=drawn[c].practitioner,
                session_date=at.date(),
                stage=Stage.CHART,
                ruleset_version=RULESET,
                precare_window_days=7,
                outcome=Outcome.CLEAR,
                run_at=at,
                run_by=drawn[c].practitioner,
            )
            for (at, c, j), appointment in zip(rows, appointments, strict=True)
        )
        charts = Chart.objects.bulk_create(
            Chart(
                clinic=clinic,
                appointment=appointment,
                patient=patients[c],
                plan=plans[c],
                practitioner=drawn[c].practitioner,
                formula_version=versions[drawn[c].truth.name],
                screening=screening,
                session_number=j + 1,
                started_at=at + STARTS_AFTER,
                ended_at=at + ENDS_AFTER,
                pain_score=rng.randint(0, 4),
                aftercare_given="No sport or sauna for 24 hours.",
                notes=f"{patients[c].given_name} {patients[c].family_name} tolerated it well.",
                created_by=drawn[c].practitioner,
                created_at=at,
            )
            for (at, c, j), appointment, screening in zip(
                rows, appointments, screenings, strict=True
            )
        )

        # Lots in turn: each formula's sessions split into consecutive runs, one per lot.
        by_formula: dict[int, list[int]] = {}
        for i, (_, c, _j) in enumerate(rows):
            by_formula.setdefault(drawn[c].formula_index, []).append(i)
        lot_of = [0] * len(rows)
        vial_of = [0] * len(rows)
        by_run_position = [0] * len(rows)  # the session's place among its lot's uses
        for f, indices in by_formula.items():
            run = math.ceil(len(indices) / spec.lots_per_product)
            for k, i in enumerate(indices):
                lot_of[i] = f * spec.lots_per_product + k // run
                by_run_position[i] = k % run
                vial_of[i] = (k % run) // spec.doses_per_vial
        # A multi-dose vial is opened at its first use.
        opens = [
            spec.doses_per_vial > 1 and by_run_position[i] % spec.doses_per_vial == 0
            for i in range(len(rows))
        ]
        devices = [
            (Device.INJECTOR, f"GUN-{rng.randint(1, 2)}")
            if rng.random() < spec.injector_share
            else (Device.SYRINGE, "")
            for _ in rows
        ]

        volume = Decimal("2.00")
        syringes = Syringe.objects.bulk_create(
            Syringe(
                chart=chart,
                number=1,
                device=device,
                volume_ml=volume,
                needle_gauge=None if device == Device.INJECTOR else 30,
                needle_length_mm=Decimal(4),
                injector_id=injector,
            )
            for chart, (device, injector) in zip(charts, devices, strict=True)
        )
        uses = LotUse.objects.bulk_create(
            LotUse(
                lot=lots[lot_of[i]],
                patient=patients[c],
                used_on=at + STARTS_AFTER,
                volume_ml=volume,
                units=1 if spec.doses_per_vial == 1 or opens[i] else 0,
                formula_version=chart.formula_version,
                reference=f"Chart {chart.pk}, syringe 1",
                recorded_by=drawn[c].practitioner,
                recorded_at=at + ENDS_AFTER,
            )
            for i, ((at, c, _j), chart) in enumerate(zip(rows, charts, strict=True))
        )
        SyringeLot.objects.bulk_create(
            SyringeLot(
                chart=chart,
                syringe=syringe,
                lot=lots[lot_of[i]],
                volume_ml=volume,
                opens_unit=opens[i],
                lot_use=use,
            )
            for i, (chart, syringe, use) in enumerate(zip(charts, syringes, uses, strict=True))
        )
        per_point = (volume / 40).quantize(Decimal("0.001"))
        AreaTreatment.objects.bulk_create(
            AreaTreatment(
                chart=chart,
                position=1,
                body_area=self.area,
                side="both" if self.area.paired else "",
                syringe=syringe,
                technique=Technique.INJECTOR if device == Device.INJECTOR else Technique.NAPPAGE,
                depth_mm=Decimal(2),
                volume_per_point_ml=per_point,
                point_count=40,
            )
            for chart, syringe, (device, _) in zip(charts, syringes, devices, strict=True)
        )
        # Signing is the one UPDATE an unsigned chart allows; the parts are in place first.
        Chart.objects.filter(pk__in=[chart.pk for chart in charts]).update(
            signed_at=F("ended_at") + timedelta(minutes=5),
            signed_by=F("practitioner"),
            content_sha256=SIGNED_HASH,
        )
        for version in versions.values():
            FormulaVersion.objects.filter(pk=version.pk).update(used_at=self.local(self.start, 0))
        taken: dict[int, int] = {}
        for i, use in enumerate(uses):
            taken[lot_of[i]] = taken.get(lot_of[i], 0) + use.units
        for index, lot in enumerate(lots):
            Lot.objects.filter(pk=lot.pk).update(
                remaining_units=lot.received_quantity - taken.get(index, 0)
            )

        sessions = [
            Session(
                chart_id=chart.pk,
                plan_id=plans[c].pk,
                patient_id=patients[c].pk,
                practitioner_id=drawn[c].practitioner.pk,
                formula=drawn[c].truth.name,
                number=j + 1,
                day=at.date(),
                started_at=at + STARTS_AFTER,
                lot_index=lot_of[i],
                vial=vial_of[i],
                device=devices[i][0],
                injector_id=devices[i][1],
            )
            for i, ((at, c, j), chart) in enumerate(zip(rows, charts, strict=True))
        ]
        infections, counts = self._events(sessions, patients)
        charts_of: list[list[tuple[Chart, datetime]]] = [[] for _ in drawn]
        for (at, c, _j), chart in zip(rows, charts, strict=True):
            charts_of[c].append((chart, at))
        courses = self._measure(plans, patients, drawn, charts_of)
        for practitioner in practitioners:
            practitioner.refresh_from_db()
        return Registry(
            clinic=clinic,
            practitioners=practitioners,
            patients=patients,
            plans=plans,
            lots=[Lot.objects.get(pk=lot.pk) for lot in lots],
            versions={name: FormulaVersion.objects.get(pk=v.pk) for name, v in versions.items()},
            chart_ids=[chart.pk for chart in charts],
            spec=spec,
            scale=self.scale,
            practitioner_effects=effects,
            courses=courses,
            sessions=sessions,
            infections=infections,
            side_effect_counts=counts,
        )

    def _events(
        self, sessions: list[Session], patients: list[Patient]
    ) -> tuple[list[Infection], dict[str, int]]:
        spec, rng = self.spec, self.rng
        patients_by_id = {p.pk: p for p in patients}
        # (event, session, planted): planted is None for a side effect other than infection.
        pending: list[tuple[AdverseEvent, Session, bool | None]] = []
        counts: dict[str, int] = {}

        def event(session: Session, code: str, onset: date, **values: object) -> AdverseEvent:
            counts[code] = counts.get(code, 0) + 1
            patient = patients_by_id[session.patient_id]
            reported = min(
                datetime.combine(onset + timedelta(days=1), time(10), tzinfo=self.tz), self.now
            )
            return AdverseEvent(
                clinic=self.clinic,
                patient_id=session.patient_id,
                chart_id=session.chart_id,
                side_effect=self.side_effects[code],
                body_area=self.area,
                onset_on=onset,
                reporter=Reporter.STAFF,
                reported_by_id=session.practitioner_id,
                reported_at=reported,
                causality=Causality.PROBABLE,
                causality_by_id=session.practitioner_id,
                causality_at=reported,
                notes=f"Reported by {patient.given_name} {patient.family_name} by phone.",
                **values,
            )

        for session in sessions:
            for code, rate in spec.side_effect_rates.items():
                if rng.random() < rate:
                    days = rng.randint(2, 4) if rng.random() < 0.1 else 1
                    resolved = session.day + timedelta(days=days)
                    pending.append(
                        (
                            event(
                                session,
                                code,
                                session.day,
                                grade=Grade.MILD,
                                outcome=EventOutcome.RESOLVED,
                                resolved_on=resolved,
                                treatment="Cold pack.",
                            ),
                            session,
                            None,
                        )
                    )
            planted = (
                session.lot_index == spec.contaminated_lot and rng.random() < spec.contaminated_rate
            )
            if planted or rng.random() < spec.background_infection_rate:
                onset = session.day + timedelta(days=rng.randint(*INCUBATION_DAYS))
                resolved = onset + timedelta(days=30)
                over = resolved <= self.today
                infection = event(
                    session,
                    INFECTION,
                    onset,
                    grade=Grade.SEVERE,
                    outcome=EventOutcome.RESOLVED if over else EventOutcome.ONGOING,
                    resolved_on=resolved if over else None,
                    treatment="Oral antibiotics.",
                )
                pending.append((infection, session, planted))
        saved = AdverseEvent.objects.bulk_create(e for e, _, _ in pending)
        infections = sorted(
            (
                Infection(
                    event_id=row.pk,
                    patient_id=session.patient_id,
                    chart_id=session.chart_id,
                    lot_index=session.lot_index,
                    exposed_on=session.day,
                    onset_on=row.onset_on,
                    planted=planted,
                )
                for row, (_, session, planted) in zip(saved, pending, strict=True)
                if planted is not None
            ),
            key=lambda infection: (infection.onset_on, infection.chart_id),
        )
        return infections, counts

    def _measure(
        self,
        plans: list[CoursePlan],
        patients: list[Patient],
        drawn: list[_Draw],
        charts_of: list[list[tuple[Chart, datetime]]],
    ) -> list[Course]:
        spec, rng, scale = self.spec, self.rng, self.scale
        site = SITE if site_required(scale) else ""
        better = -1.0 if scale.direction == Direction.LOWER_IS_BETTER else 1.0
        rows: list[Measurement] = []
        courses: list[Course] = []

        def measurement(
            c: int, on: OutcomeScale, value: Decimal, at: datetime, **extra: object
        ) -> Measurement:
            practitioner = drawn[c].practitioner
            patient = patients[c]
            values: dict[str, object] = {
                "rater": Rater.PRACTITIONER,
                "site": site if on == scale else "",
                "note": f"Measured with {patient.given_name} {patient.family_name} standing.",
            } | extra
            return Measurement(
                clinic=self.clinic,
                patient=patient,
                plan=plans[c],
                scale=on,
                value=value,
                measured_at=at,
                rated_by=practitioner,
                recorded_by=practitioner,
                recorded_at=at,
                **values,
            )

        for c, course in enumerate(drawn):
            charts = charts_of[c]
            first, first_at = charts[0]
            recorded_baseline = _on_scale(scale, course.baseline)
            rows.append(
                measurement(
                    c,
                    scale,
                    recorded_baseline,
                    first_at - timedelta(minutes=10),
                    time_point=TimePoint.BASELINE,
                    chart=first,
                )
            )
            end = gais_practitioner = gais_patient = None
            if course.measured:
                day = charts[-1][1].date()
                at = datetime.combine(
                    day + timedelta(days=rng.randint(14, 28)), time(11), tzinfo=self.tz
                )
                end = _on_scale(scale, course.baseline + course.change)
                rows.append(measurement(c, scale, end, at, time_point=TimePoint.END))
                if self.gais_scale is not None:
                    improvement = better * course.change
                    gais_practitioner = _gais(improvement, spec.noise_sd)
                    gais_patient = _gais(
                        improvement + rng.gauss(0, 0.5 * spec.noise_sd), spec.noise_sd
                    )
                    for rater, level in (
                        (Rater.PRACTITIONER, gais_practitioner),
                        (Rater.PATIENT, gais_patient),
                    ):
                        rows.append(
                            measurement(
                                c,
                                self.gais_scale,
                                Decimal(level),
                                at + timedelta(minutes=5),
                                time_point=TimePoint.END,
                                rater=rater,
                            )
                        )
            courses.append(
                Course(
                    plan_id=plans[c].pk,
                    patient_id=patients[c].pk,
                    practitioner_id=course.practitioner.pk,
                    formula=course.truth.name,
                    true_baseline=course.baseline,
                    true_change=course.change,
                    baseline=recorded_baseline,
                    end=end,
                    gais_practitioner=gais_practitioner,
                    gais_patient=gais_patient,
                    sessions=course.held,
                )
            )
        Measurement.objects.bulk_create(rows)
        return courses
