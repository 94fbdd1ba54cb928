"""A synthetic registry with planted truth, for the tests of the evidence reports.

``build_registry(clinic, spec)`` writes courses, attended appointments, screenings, signed
charts (syringes, syringe lots, lot uses, area treatments), adverse events and outcome
measurements into ``clinic`` in a few bulk queries, and returns what was planted: each course's
true change, each session's lot, vial and device, and the infections in order of onset. The
same seed gives the same registry (the practitioners' names differ between clinics). It draws
the registry here and has ``evidence.synthetic`` write it, as the demo's history is written.

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

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType

from django.db import transaction

from mesoclinic.catalogue.models import (
    BodyArea,
    Direction,
    Indication,
    OutcomeScale,
    Protocol,
    SideEffect,
)
from mesoclinic.charts.models import Device, Technique
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.models import CoursePlan, CourseStatus
from mesoclinic.evidence.synthetic import (
    AreaDraw,
    CourseDraw,
    EventDraw,
    LotDraw,
    MeasurementDraw,
    SessionDraw,
    SyringeDraw,
    gais_level,
    on_scale,
    write_courses,
)
from mesoclinic.followup.models import EventOutcome, Grade
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import FormulaVersion, Ingredient, Lot, Presentation
from mesoclinic.outcomes.models import Rater, TimePoint
from mesoclinic.outcomes.services import site_required
from mesoclinic.patients.models import Patient, Sex, phone_digits

INFECTION = "infection"
INTERVAL_DAYS = 14
SESSION_MINUTES = 30
# 30-minute slots from 08:00 to 18:00 on each of 14 days: the courses one practitioner can run
# at once without two sessions at the same time.
SLOTS_PER_DAY = 20
LANES = SLOTS_PER_DAY * INTERVAL_DAYS
INCUBATION_DAYS = (7, 60)
SITE = "mid-thigh, 15 cm above the patella"
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
        spec, rng = self.spec, self.rng
        # Sessions in time order, so that lots and vials are used in turn.
        rows = sorted(
            (starts[j], c, j)
            for c, (starts, course) in enumerate(zip(schedule, drawn, strict=True))
            for j in range(course.held)
        )
        pain = [rng.randint(0, 4) for _ in rows]
        devices = [
            (Device.INJECTOR, f"GUN-{rng.randint(1, 2)}")
            if rng.random() < spec.injector_share
            else (Device.SYRINGE, "")
            for _ in rows
        ]

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
        exposures = [
            _Exposure(c, j, at.date(), lot_of[i], vial_of[i], *devices[i])
            for i, (at, c, j) in enumerate(rows)
        ]
        events = self._events(exposures, patients)
        measurements = self._measure(patients, drawn, schedule)

        volume = Decimal("2.00")
        session_draws: list[list[SessionDraw]] = [[] for _ in drawn]
        for i, (at, c, _) in enumerate(rows):
            patient = patients[c]
            device, injector = devices[i]
            session_draws[c].append(
                SessionDraw(
                    starts_at=at,
                    started_at=at + STARTS_AFTER,
                    ended_at=at + ENDS_AFTER,
                    pain_score=pain[i],
                    aftercare_given="No sport or sauna for 24 hours.",
                    notes=f"{patient.given_name} {patient.family_name} tolerated it well.",
                    syringes=(
                        SyringeDraw(
                            volume_ml=volume,
                            device=device,
                            needle_gauge=None if device == Device.INJECTOR else 30,
                            injector_id=injector,
                            lots=(
                                LotDraw(
                                    lot=lots[lot_of[i]],
                                    volume_ml=volume,
                                    units=1 if spec.doses_per_vial == 1 or opens[i] else 0,
                                    opens_unit=opens[i],
                                ),
                            ),
                            areas=(
                                AreaDraw(
                                    body_area=self.area,
                                    side="both" if self.area.paired else "",
                                    technique=Technique.INJECTOR
                                    if device == Device.INJECTOR
                                    else Technique.NAPPAGE,
                                    depth_mm=Decimal(2),
                                    volume_per_point_ml=(volume / 40).quantize(Decimal("0.001")),
                                    point_count=40,
                                ),
                            ),
                        ),
                    ),
                    events=tuple(event for event, _ in events[i]),
                )
            )
        written = write_courses(
            self.clinic,
            [
                CourseDraw(
                    patient=patient,
                    practitioner=course.practitioner,
                    indication=self.indication,
                    version=versions[course.truth.name],
                    protocol=self.protocol,
                    areas=(self.area,),
                    sessions_planned=spec.sessions_per_course,
                    interval_days=INTERVAL_DAYS,
                    session_minutes=SESSION_MINUTES,
                    status=CourseStatus.COMPLETED if course.measured else CourseStatus.STOPPED,
                    status_reason="" if course.measured else "The patient stopped coming.",
                    completed_on=starts[course.held - 1].date() if course.measured else None,
                    created_at=starts[0] - timedelta(days=7),
                    sessions=tuple(sessions),
                    measurements=tuple(measured),
                )
                for patient, starts, course, sessions, measured in zip(
                    patients, schedule, drawn, session_draws, measurements, strict=True
                )
            ],
        )
        charts = {(s.course, s.number): s.chart.pk for s in written.sessions}
        sessions = [
            Session(
                chart_id=charts[c, j],
                plan_id=written.plans[c].pk,
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
            for i, (at, c, j) in enumerate(rows)
        ]
        planted_of = [planted for row in events for _, planted in row]
        infections = sorted(
            (
                Infection(
                    event_id=written_event.event.pk,
                    patient_id=patients[written_event.course].pk,
                    chart_id=charts[written_event.course, written_event.number],
                    lot_index=exposure.lot,
                    exposed_on=exposure.day,
                    onset_on=written_event.event.onset_on,
                    planted=planted,
                )
                for written_event, planted, exposure in zip(
                    written.events,
                    planted_of,
                    [exposures[i] for i, row in enumerate(events) for _ in row],
                    strict=True,
                )
                if planted is not None
            ),
            key=lambda infection: (infection.onset_on, infection.chart_id),
        )
        counts: dict[str, int] = {}
        for row in events:
            for event, _ in row:
                counts[event.side_effect] = counts.get(event.side_effect, 0) + 1
        courses = [
            Course(
                plan_id=plan.pk,
                patient_id=patients[c].pk,
                practitioner_id=drawn[c].practitioner.pk,
                formula=drawn[c].truth.name,
                true_baseline=drawn[c].baseline,
                true_change=drawn[c].change,
                baseline=measured[0].value,
                end=measured[1].value if len(measured) > 1 else None,
                gais_practitioner=int(measured[2].value) if len(measured) > 2 else None,
                gais_patient=int(measured[3].value) if len(measured) > 3 else None,
                sessions=drawn[c].held,
            )
            for c, (plan, measured) in enumerate(zip(written.plans, measurements, strict=True))
        ]
        for practitioner in practitioners:
            practitioner.refresh_from_db()
        return Registry(
            clinic=self.clinic,
            practitioners=practitioners,
            patients=patients,
            plans=written.plans,
            lots=[Lot.objects.get(pk=lot.pk) for lot in lots],
            versions={name: FormulaVersion.objects.get(pk=v.pk) for name, v in versions.items()},
            chart_ids=[s.chart.pk for s in written.sessions],
            spec=spec,
            scale=self.scale,
            practitioner_effects=effects,
            courses=courses,
            sessions=sessions,
            infections=infections,
            side_effect_counts=counts,
        )

    def _events(
        self, exposures: list[_Exposure], patients: list[Patient]
    ) -> list[list[tuple[EventDraw, bool | None]]]:
        """Each session's side effects, with whether an infection was planted (None for any
        other side effect)."""
        spec, rng = self.spec, self.rng
        found: list[list[tuple[EventDraw, bool | None]]] = []
        for session in exposures:
            patient = patients[session.course]
            notes = f"Reported by {patient.given_name} {patient.family_name} by phone."
            events: list[tuple[EventDraw, bool | None]] = []
            for code, rate in spec.side_effect_rates.items():
                if rng.random() < rate:
                    days = rng.randint(2, 4) if rng.random() < 0.1 else 1
                    event = EventDraw(
                        side_effect=code,
                        onset_on=session.day,
                        grade=Grade.MILD,
                        outcome=EventOutcome.RESOLVED,
                        resolved_on=session.day + timedelta(days=days),
                        treatment="Cold pack.",
                        notes=notes,
                    )
                    events.append((event, None))
            planted = session.lot == spec.contaminated_lot and rng.random() < spec.contaminated_rate
            if planted or rng.random() < spec.background_infection_rate:
                onset = session.day + timedelta(days=rng.randint(*INCUBATION_DAYS))
                resolved = onset + timedelta(days=30)
                over = resolved <= self.today
                infection = EventDraw(
                    side_effect=INFECTION,
                    onset_on=onset,
                    grade=Grade.SEVERE,
                    outcome=EventOutcome.RESOLVED if over else EventOutcome.ONGOING,
                    resolved_on=resolved if over else None,
                    treatment="Oral antibiotics.",
                    notes=notes,
                )
                events.append((infection, planted))
            found.append(events)
        return found

    def _measure(
        self, patients: list[Patient], drawn: list[_Draw], schedule: list[list[datetime]]
    ) -> list[list[MeasurementDraw]]:
        """Each course's measurements: its baseline, then, when measured at the end, its end
        value and the practitioner's and the patient's GAIS."""
        spec, rng, scale = self.spec, self.rng, self.scale
        site = SITE if site_required(scale) else ""
        better = -1.0 if scale.direction == Direction.LOWER_IS_BETTER else 1.0
        found: list[list[MeasurementDraw]] = []
        for c, course in enumerate(drawn):
            patient = patients[c]
            note = f"Measured with {patient.given_name} {patient.family_name} standing."
            starts = schedule[c]
            rows = [
                MeasurementDraw(
                    scale=scale,
                    value=on_scale(scale, course.baseline),
                    measured_at=starts[0] - timedelta(minutes=10),
                    time_point=TimePoint.BASELINE,
                    site=site,
                    note=note,
                    session=0,
                )
            ]
            if course.measured:
                day = starts[course.held - 1].date()
                at = datetime.combine(
                    day + timedelta(days=rng.randint(14, 28)), time(11), tzinfo=self.tz
                )
                rows.append(
                    MeasurementDraw(
                        scale=scale,
                        value=on_scale(scale, course.baseline + course.change),
                        measured_at=at,
                        time_point=TimePoint.END,
                        site=site,
                        note=note,
                    )
                )
                if self.gais_scale is not None:
                    improvement = better * course.change
                    levels = (
                        gais_level(improvement, spec.noise_sd),
                        gais_level(improvement + rng.gauss(0, 0.5 * spec.noise_sd), spec.noise_sd),
                    )
                    rows += [
                        MeasurementDraw(
                            scale=self.gais_scale,
                            value=Decimal(level),
                            measured_at=at + timedelta(minutes=5),
                            time_point=TimePoint.END,
                            rater=rater,
                            note=note,
                        )
                        for rater, level in zip(
                            (Rater.PRACTITIONER, Rater.PATIENT), levels, strict=True
                        )
                    ]
            found.append(rows)
        return found


@dataclass(frozen=True)
class _Exposure:
    """What a session, drawn but not yet written, exposed its patient to."""

    course: int
    number: int
    day: date
    lot: int
    vial: int
    device: str
    injector_id: str
