"""The Paris demo clinic's past: about two years of finished courses, so that the evidence
pages (outcomes by formula, side-effect rates, outbreak alerts) have figures to show.

The history is synthetic, and says so in the demo's summary and on each of its patients: 15
courses of each of five formulas of the clinic's library, two for cellulite, two for
pigmentation and one for localised fat, given by the Paris practitioners (all three for the
body, enough for the comparison between the cellulite formulas to fit its mixed model; the two
who treat the face for pigmentation, where it falls back to fixed effects), each course to a
former patient of its own, named as the demo's other patients are. Of each formula's 15
courses, 12 ran their sessions and were measured at the end, one ended without its end
measurement and two stopped early, after one to four sessions (the drop-outs, with the session
they cancelled). Each course has a baseline on its indication's primary scale before its first
session; a measured course its end value 2 to 4 weeks after its last session and the
practitioner's and the patient's GAIS.

Effects are modest and differ between formulas, by design and without meaning: a course's
change is its formula's ``effect`` plus its practitioner's habit and a course's own noise,
so that the report's intervals are wide and overlap. Nothing here says that a formula works.

Side effects come at plausible rates per session (bruising after one body session in six,
redness after one face session in six...), mild and resolved within days, bruises after
several. Most sessions had their 24-hour check by phone, which recorded those still there.
Two infections occur, more than a year before the demo's today and so far apart that no lot,
vial, injector or clinic day carries both in any window the outbreak scan looks at: the
background an outbreak is measured against. The infection cluster that the demo's
aftercare plants on one lot stays the only outbreak the scan alerts.

The history ends a week before the first appointment of the demo's present courses (and at
least six months before today), in the practitioners' working hours and rooms, so that no
booking overlaps another. Its lots were received in turn, each used until it was empty and
none expiring in the demo's coming weeks. The charts look like the demo's others: the same
techniques, depths, points on the body map, lots of each product of the formula, creams and
reactions, each signed with its content's hash. Completed courses have their yearly
maintenance recall (dismissed once long past), courses with a prescription-only ingredient
their prescription. Consents, photos and the follow-up's flags (long closed by now) are not
part of the history.

Everything is drawn from one stream (``generator.stream(seed, "history")``) and written in
bulk by ``evidence.synthetic``: the rest of the demo is as it was without it, and the whole
history takes a few seconds.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Direction, Indication, OutcomeScale, Protocol
from mesoclinic.charts import bodymap
from mesoclinic.charts.models import Device, Side, Technique
from mesoclinic.charts.services import CENT
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    MaintenanceRecall,
    MaintenanceStatus,
    Room,
)
from mesoclinic.courses.plans import add_months
from mesoclinic.demo import charts as demo_charts
from mesoclinic.demo.courses import HOURS
from mesoclinic.demo.formulas import PRODUCTS, SUPPLIERS, _lot_number
from mesoclinic.demo.screening import PRESCRIBERS
from mesoclinic.evidence.outbreaks import BACKGROUND_DAYS, INCUBATION_MAX_DAYS, LOOKBACK_DAYS
from mesoclinic.evidence.synthetic import (
    AreaDraw,
    CourseDraw,
    EventDraw,
    FollowUpDraw,
    LotDraw,
    MeasurementDraw,
    PointDraw,
    SessionDraw,
    SyringeDraw,
    gais_level,
    on_scale,
    past_times,
    write_courses,
)
from mesoclinic.followup.models import EventOutcome, Grade
from mesoclinic.followup.services import FOLLOW_UP_QUESTIONS
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import FormulaComponent, FormulaVersion, Lot, Product
from mesoclinic.outcomes.models import Rater, TimePoint
from mesoclinic.patients.models import Patient, Sex
from mesoclinic.screening.models import Prescription

# The first course began this long before the demo's today; the last session is a week before
# the present courses' first, and at least LATEST_DAYS before today.
HISTORY_DAYS = 760
LATEST_DAYS = 180
COURSES_PER_FORMULA = 15
STOPPED_PER_FORMULA = 2  # drop-outs, after 1 to 4 sessions
UNMEASURED_PER_FORMULA = 1  # ran every session, but no end measurement
SESSIONS = (6, 6, 8)  # planned, drawn; the catalogue's default protocol: 6 to 8
SESSION_MINUTES = 30
INTERVAL_DAYS = 14
MIN_AGE = 20  # at the history's start
RULESET = "synthetic demo history"
# On each of the history's patients, so that whoever opens one knows what it is.
PATIENT_NOTE = (
    "Former patient of the demo's synthetic history: past courses made up for the evidence pages."
)
# Each practitioner's room in those years.
ROOMS = {"dr.lefebvre": "Salle Érable", "dr.moreau": "Salle Charme", "dr.okafor": "Salle Tilleul"}
# The practitioner's own habit, added to every course's change, in units of the arm's noise.
PRACTITIONER_SD = 0.3
STOP_REASONS = (
    "The patient stopped coming and did not answer two calls.",
    "Moved away from Paris; the rest of the course was cancelled.",
    "Bruising after each session; the patient chose to stop.",
    "No change the patient could see; stopped at the patient's request.",
)
INFECTION_NOTE = (
    "Tender red nodule at one injection point, weeks after the session. The sessions of the "
    "same days, lots and devices were reviewed: no other patient had a similar reaction."
)
MAINTENANCE_DISMISSED = (
    "Offered at the recall call; the patient did not want a maintenance session."
)
# A recall due longer ago than this was called and dismissed; later ones are still due.
RECALL_CALLED_AFTER = timedelta(days=21)


@dataclass(frozen=True)
class Arm:
    """One formula's courses: how they are given and how the primary scale moves."""

    formula: str  # of the Paris library
    version: int  # the version used then
    indication: str
    practitioners: tuple[str, ...]  # the courses' practitioners, in turn
    areas: tuple[str, ...]  # treated at every session
    baseline: tuple[float, float]  # mean, SD on the primary scale
    effect: float  # mean change from baseline
    noise: float  # SD of a course's change around it
    site: str = ""  # where the primary scale is measured, when it needs one
    women_only: bool = True  # who comes for it


ARMS: tuple[Arm, ...] = (
    Arm(
        "Cellulite cuisses drainage",
        1,
        "cellulite",
        ("dr.lefebvre", "dr.moreau", "dr.lefebvre", "dr.okafor", "dr.lefebvre"),
        ("thighs",),
        (9.0, 2.0),
        -1.5,
        1.3,
    ),
    Arm(
        "Cellulite fermeté",
        1,
        "cellulite",
        ("dr.moreau", "dr.lefebvre", "dr.moreau", "dr.okafor", "dr.moreau"),
        ("thighs", "hips"),
        (8.5, 2.0),
        -0.6,
        1.3,
    ),
    Arm(
        "Dépigmentant mélasma",
        1,
        "pigmentation",
        ("dr.moreau", "dr.moreau", "dr.okafor"),
        ("cheeks", "forehead"),
        (8.0, 2.5),
        -1.6,
        1.6,
    ),
    Arm(
        "Taches pigmentaires",
        1,
        "pigmentation",
        ("dr.okafor", "dr.okafor", "dr.moreau"),
        ("cheeks",),
        (7.0, 2.5),
        -0.8,
        1.6,
    ),
    # Its lidocaine came with version 2, after these courses. The clinic's other formula for
    # localised fat treats the chin, measured around the neck: a comparison adjusted for the
    # baseline circumference could not tell the formula from the site, so it has no history.
    Arm(
        "Lipolyse abdomen",
        1,
        "localised-fat",
        ("dr.lefebvre", "dr.moreau", "dr.lefebvre", "dr.okafor", "dr.lefebvre"),
        ("abdomen",),
        (92.0, 8.0),
        -1.5,
        2.0,
        site="navel, standing",
        women_only=False,
    ),
)
MEN_SHARE = 0.3  # of the courses open to men


@dataclass(frozen=True)
class SideEffectPlan:
    code: str
    rate: float  # per session
    days: tuple[int, int]  # from onset to resolution
    treatment: str = ""
    moderate: float = 0.0  # share of grade 2


SIDE_EFFECTS = {
    "body": (
        SideEffectPlan("bruising", 0.17, (3, 10), "Arnica gel; faded on its own.", 0.1),
        SideEffectPlan("swelling", 0.08, (1, 3), "Cold pack."),
        SideEffectPlan("pain", 0.05, (0, 2), "Paracetamol for a day."),
        SideEffectPlan("redness", 0.06, (0, 1)),
    ),
    "face": (
        SideEffectPlan("redness", 0.16, (0, 1)),
        SideEffectPlan("injection-site-bumps", 0.08, (1, 3)),
        SideEffectPlan("swelling", 0.05, (1, 2), "Cold pack."),
        SideEffectPlan("bruising", 0.05, (3, 8), "Concealer; faded on its own.", 0.1),
        SideEffectPlan("itching", 0.02, (1, 2), "Soothing cream."),
    ),
}
# The 24-hour check by phone, a day and a bit after the session; a few were never reached. A
# side effect it asks about that was still there is recorded as its answer.
UNREACHED_SHARE = 0.08
ANSWERED_AFTER_HOURS = (24.5, 30.0)
EVENT_NOTES = {True: "Still there at the 24-hour call.", False: "Settled by the 24-hour call."}
# The two infections: the first after a session of the history's first INFECTION_EARLY days,
# the second after one INFECTION_APART days later or more, so that no scan's window (sessions
# of LOOKBACK_DAYS, each infection attributed to those of its INCUBATION_MAX_DAYS before) holds
# both; each began before the year the scan measures its background over.
INFECTION_EARLY = 45
INFECTION_ONSET = (14, 42)  # days after the session
INFECTION_APART = LOOKBACK_DAYS + INCUBATION_MAX_DAYS + INFECTION_ONSET[1] - INFECTION_ONSET[0]
INFECTION_LATEST = BACKGROUND_DAYS + 1  # days before today, the onset at the latest
# (organism, grade, treatment, days to resolution at least)
INFECTIONS = (
    ("", Grade.MODERATE, "Oral clarithromycin for six weeks; the culture grew nothing.", 56),
    (
        "Staphylococcus aureus (methicillin-sensitive)",
        Grade.MODERATE,
        "Drained at the clinic; oral flucloxacillin for ten days.",
        21,
    ),
)
# Lots of a product, as ordered: each until empty (the units a box holds) or this old.
LOT_UNITS = (20, 30, 40)
LOT_DAYS = 240
SHELF_LIFE_DAYS = (300, 450)
# No lot of the history expires around today: the library's near-expiry lot is the one.
EXPIRY_CLEAR_OF = (-10, 60)


@dataclass
class HistoryCounts:
    courses: int = 0
    stopped: int = 0
    patients: int = 0
    sessions: int = 0
    follow_ups: int = 0
    side_effects: int = 0
    infections: int = 0
    measurements: int = 0
    lots: int = 0
    first_day: date | None = None
    last_day: date | None = None

    def __str__(self) -> str:
        if not self.courses or self.first_day is None or self.last_day is None:
            return "no synthetic history"
        return (
            f"a synthetic history of {self.courses} past courses ({self.stopped} stopped early) "
            f"of {self.patients} former patients from {self.first_day:%B %Y} to "
            f"{self.last_day:%B %Y}, with {self.sessions} signed sessions, {self.follow_ups} "
            f"answered follow-ups, {self.side_effects} side effects ({self.infections} isolated "
            f"infections) and {self.measurements} outcome measurements"
        )


@dataclass
class _Course:
    """A course as drawn, filled in step by step before it is written."""

    arm: Arm
    indication: Indication
    version: FormulaVersion
    practitioner: User
    planned: int
    held: int
    measured: bool  # completed and measured at the end
    baseline: float
    change: float
    starts: list[datetime]  # every planned session's appointment; the first ``held`` held
    patient: Patient | None = None
    sessions: list[SessionDraw] = field(default_factory=list)
    measurements: tuple[MeasurementDraw, ...] = ()
    stop_reason: str = ""

    @property
    def kind(self) -> str:
        return "body" if self.indication.code in demo_charts.BODY_INDICATIONS else "face"

    @property
    def last_day(self) -> date:
        return self.sessions[-1].starts_at.date()


@transaction.atomic
def build_history(rng: random.Random, clinic: Clinic, today: date) -> HistoryCounts:
    """The history of ``clinic`` (the Paris demo clinic, with its library, staff and present
    courses), before ``today`` and never after the real one. A clinic without patients has no
    past either."""
    if not clinic.patients.exists():
        return HistoryCounts()
    return _History(rng, clinic, min(today, clinic.today())).build()


class _History:
    def __init__(self, rng: random.Random, clinic: Clinic, today: date) -> None:
        self.rng, self.clinic, self.today = rng, clinic, today
        self.tz = clinic.tz
        self.staff = {u.username: u for u in User.objects.filter(clinic=clinic)}
        self.desk = next(u for u in self.staff.values() if u.role == Role.ASSISTANT)
        self.rooms = {r.name: r for r in Room.objects.filter(clinic=clinic)}
        self.indications = {
            i.code: i
            for i in Indication.objects.filter(
                code__in={a.indication for a in ARMS}
            ).select_related("primary_scale")
        }
        self.areas = {
            a.code: a for a in BodyArea.objects.filter(code__in={c for a in ARMS for c in a.areas})
        }
        self.protocol = Protocol.objects.get(code="default")
        self.gais = OutcomeScale.objects.get(code="gais")
        self.start = today - timedelta(days=HISTORY_DAYS)
        present = Appointment.objects.filter(clinic=clinic).aggregate(first=Min("starts_at"))
        end = today - timedelta(days=LATEST_DAYS)
        if present["first"] is not None:
            end = min(end, timezone.localdate(present["first"], self.tz) - timedelta(days=7))
        self.end = end  # no appointment of the history after it
        self.busy: set[tuple[int, datetime]] = set()  # (practitioner, appointment start)

    def build(self) -> HistoryCounts:
        courses = self._courses()
        self._patients(courses)
        for course in courses:
            self._sessions(course)
        lots = self._stock(courses)
        infections = self._infect(courses)
        for course in courses:
            course.measurements = self._measure(course)
        written = write_courses(
            self.clinic,
            [self._draw(course) for course in courses],
            ruleset=RULESET,
            hash_charts=True,
        )
        self._after(courses, written.plans)
        return HistoryCounts(
            courses=len(courses),
            stopped=sum(c.held < c.planned for c in courses),
            patients=len(courses),
            sessions=len(written.sessions),
            follow_ups=sum(s.follow_up is not None for c in courses for s in c.sessions),
            side_effects=len(written.events),
            infections=infections,
            measurements=sum(len(c.measurements) for c in courses),
            lots=lots,
            first_day=min(c.sessions[0].starts_at.date() for c in courses),
            last_day=max(c.last_day for c in courses),
        )

    # --- courses and their schedule ---------------------------------------------------------

    def _courses(self) -> list[_Course]:
        rng = self.rng
        versions = {
            (v.formula.name, v.number): v
            for v in FormulaVersion.objects.filter(formula__clinic=self.clinic).select_related(
                "formula"
            )
        }
        names = sorted({p for arm in ARMS for p in arm.practitioners})
        habits = {name: rng.gauss(0, PRACTITIONER_SD) for name in names}
        courses = []
        for arm in ARMS:
            outcomes = ["stopped"] * STOPPED_PER_FORMULA + ["unmeasured"] * UNMEASURED_PER_FORMULA
            outcomes += ["measured"] * (COURSES_PER_FORMULA - len(outcomes))
            rng.shuffle(outcomes)
            for n, outcome in enumerate(outcomes):
                practitioner = self.staff[arm.practitioners[n % len(arm.practitioners)]]
                planned = rng.choice(SESSIONS)
                course = _Course(
                    arm=arm,
                    indication=self.indications[arm.indication],
                    version=versions[arm.formula, arm.version],
                    practitioner=practitioner,
                    planned=planned,
                    held=rng.randint(1, 4) if outcome == "stopped" else planned,
                    measured=outcome == "measured",
                    baseline=rng.gauss(*arm.baseline),
                    change=arm.effect
                    + (habits[practitioner.username] + rng.gauss(0, 1)) * arm.noise,
                    starts=self._schedule(practitioner, planned),
                )
                if outcome == "stopped":
                    course.stop_reason = rng.choice(STOP_REASONS)
                courses.append(course)
        courses.sort(key=lambda c: (c.starts[0], c.practitioner.pk))
        return courses

    def _schedule(self, practitioner: User, sessions: int) -> list[datetime]:
        """A weekday and time in the practitioner's hours free at every session of a course
        (every 14 days from a day drawn in the history's span), taken for it."""
        rng = self.rng
        weekdays, blocks = HOURS[practitioner.username]
        slots = [
            time(minutes // 60, minutes % 60)
            for starts, ends in blocks
            for minutes in range(
                starts.hour * 60 + starts.minute,
                ends.hour * 60 + ends.minute - SESSION_MINUTES + 1,
                SESSION_MINUTES,
            )
        ]
        latest = self.end - timedelta(days=INTERVAL_DAYS * (sessions - 1))
        day = self.start + timedelta(days=rng.randint(0, (latest - self.start).days))
        while day <= latest:
            if day.weekday() in weekdays:
                for slot in rng.sample(slots, len(slots)):
                    starts = [
                        datetime.combine(day + timedelta(days=INTERVAL_DAYS * k), slot, self.tz)
                        for k in range(sessions)
                    ]
                    if not any((practitioner.pk, at) in self.busy for at in starts):
                        self.busy |= {(practitioner.pk, at) for at in starts}
                        return starts
            day += timedelta(days=1)
        raise ValueError(f"No free hours left for {practitioner} in the demo's history.")

    def _patients(self, courses: list[_Course]) -> None:
        """A former patient of the clinic for each course, named as the demo's others are,
        an adult when the history began, a woman where the arm's patients are."""
        from mesoclinic.demo.generator import make_patients  # which imports this module

        known = Patient.objects.filter(clinic=self.clinic)
        names = set(known.values_list("given_name", "family_name"))
        emails = set(known.exclude(email="").values_list("email", flat=True))
        pool = [
            p
            for p in make_patients(self.rng, self.clinic, 3 * len(courses), self.today)
            if p.age_on(self.start) >= MIN_AGE
            and (p.given_name, p.family_name) not in names
            and p.email not in emails
        ]
        women = [p for p in pool if p.sex == Sex.FEMALE]
        men = [p for p in pool if p.sex == Sex.MALE]
        for course in courses:
            man = not course.arm.women_only and men and self.rng.random() < MEN_SHARE
            course.patient = men.pop(0) if man else women.pop(0)
            course.patient.created_at = course.starts[0] - timedelta(days=14)
            course.patient.notes = PATIENT_NOTE
        with past_times((Patient, "created_at")):
            Patient.objects.bulk_create([c.patient for c in courses if c.patient is not None])

    # --- sessions --------------------------------------------------------------------------

    def _sessions(self, course: _Course) -> None:
        """The course's held sessions, as ``demo.charts`` draws a course's habits and each
        session; the lots are drawn later, in time order across courses."""
        rng, kind = self.rng, course.kind
        injector = kind == "body" and rng.random() < demo_charts.INJECTOR_SHARE
        areas = [self.areas[code] for code in course.arm.areas]
        codes = {a.code for a in areas}
        styles = []
        for area in areas:
            technique = Technique.INJECTOR if injector else rng.choice(demo_charts.TECHNIQUES[kind])
            regions = [r for r in bodymap.regions_for(area.code) if r.view == area.view]
            styles.append(
                (
                    area,
                    technique,
                    Decimal(rng.choice(demo_charts.DEPTHS[kind, technique])),
                    Decimal(rng.choice(demo_charts.PER_POINT_ML[technique])),
                    regions or bodymap.regions_for(area.code)[:1],
                )
            )
        gauge = rng.choice(demo_charts.GAUGES[kind])
        injector_id = rng.choice(demo_charts.INJECTORS[self.clinic.slug]) if injector else ""
        cream = rng.choice(demo_charts.CREAMS)
        habit = rng.choice(demo_charts.CREAM_HABITS)
        cream_minutes = rng.choice((20, 30, 30, 45))
        room = self.rooms.get(ROOMS.get(course.practitioner.username, ""))
        for at in course.starts[: course.held]:
            treated = []
            for area, technique, depth, per_point, regions in styles:
                low, high = demo_charts.AREA_ML.get(area.code, (1.0, 2.0))
                target = Decimal(str(round(rng.uniform(low, high), 2)))

                def accepts(region: bodymap.Region, code: str = area.code) -> bool:
                    # Its own region, or a sub-area of it the course does not treat apart.
                    within = bodymap.PARENTS.get(region.area) == code and region.area not in codes
                    return region.area == code or within

                points = [
                    PointDraw(p.view, p.x, p.y)
                    for region in regions
                    for p in demo_charts._place(rng, region, rng.randint(3, 6), accepts)
                ]
                treated.append(
                    AreaDraw(
                        body_area=area,
                        technique=technique,
                        depth_mm=depth,
                        volume_per_point_ml=per_point,
                        point_count=max(
                            int((target / per_point).to_integral_value()), len(points), 1
                        ),
                        side=Side.BOTH if area.paired else Side.NONE,
                        points=tuple(points),
                    )
                )
            # As demo.charts: a body course treats each area from its own syringe.
            groups = [[a] for a in treated] if kind == "body" else [treated]
            late = rng.randint(0, 4)
            started = at + timedelta(minutes=late)
            creamed = rng.random() < habit
            if creamed:
                pain = rng.choice((1, 1, 2, 2, 3))
            else:
                pain = rng.choice((2, 3, 3, 4, 5) if kind == "body" else (1, 2, 3, 3, 4))
            reactions = ""
            if rng.random() < demo_charts.REACTION_SHARE:
                reactions = rng.choice(demo_charts.REACTIONS[kind])
            ended = started + timedelta(minutes=min(rng.randint(25, 35), SESSION_MINUTES - late))
            events, follow_up = self._aftercare(timezone.localdate(at, self.tz), ended, kind)
            course.sessions.append(
                SessionDraw(
                    starts_at=at,
                    started_at=started,
                    ended_at=ended,
                    syringes=tuple(
                        SyringeDraw(
                            # Each area's volume to the hundredth, as the chart counts it.
                            volume_ml=sum(
                                (
                                    (a.volume_per_point_ml * a.point_count).quantize(CENT)
                                    for a in group
                                ),
                                Decimal(0),
                            ),
                            lots=(),  # drawn in _stock
                            areas=tuple(group),
                            device=Device.INJECTOR if injector else Device.SYRINGE,
                            needle_gauge=gauge,
                            needle_length_mm=demo_charts.NEEDLE_MM,
                            injector_id=injector_id,
                        )
                        for group in groups
                    ),
                    pain_score=pain,
                    anaesthetic_product=cream if creamed else "",
                    anaesthetic_minutes=cream_minutes if creamed else None,
                    immediate_reactions=reactions,
                    aftercare_given=demo_charts.AFTERCARE[kind]
                    + (demo_charts.AFTERCARE_CALL if kind == "body" else ""),
                    notes=rng.choice(demo_charts.REMARKS) if rng.random() < 0.3 else "",
                    room=room,
                    follow_up=follow_up,
                    events=events,
                )
            )

    def _aftercare(
        self, day: date, ended: datetime, kind: str
    ) -> tuple[tuple[EventDraw, ...], FollowUpDraw | None]:
        """The session's side effects and its 24-hour check, which reports those it asks
        about that were still there (resolved after the session's day)."""
        rng = self.rng
        drawn = []
        for plan in SIDE_EFFECTS[kind]:
            if rng.random() >= plan.rate:
                continue
            grade = Grade.MODERATE if rng.random() < plan.moderate else Grade.MILD
            drawn.append((plan, grade, day + timedelta(days=rng.randint(*plan.days))))
        follow_up = None
        if rng.random() >= UNREACHED_SHARE:
            answers = {code: 0 for code, _ in FOLLOW_UP_QUESTIONS}
            for plan, grade, resolved in drawn:
                if plan.code in answers and resolved > day:
                    answers[plan.code] = grade
            follow_up = FollowUpDraw(
                answered_at=ended + timedelta(hours=rng.uniform(*ANSWERED_AFTER_HOURS)),
                answered_by=self.desk,
                answers=answers,
                day_off_work=answers["swelling"] == Grade.MODERATE,
            )
        events = []
        for plan, grade, resolved in drawn:
            at_check = follow_up is not None and follow_up.answers.get(plan.code, 0) > 0
            events.append(
                EventDraw(
                    side_effect=plan.code,
                    onset_on=day,
                    grade=grade,
                    outcome=EventOutcome.RESOLVED,
                    resolved_on=resolved,
                    treatment=plan.treatment,
                    notes=EVENT_NOTES[at_check],
                    at_follow_up=at_check,
                )
            )
        return tuple(events), follow_up

    # --- stock -------------------------------------------------------------------------------

    def _stock(self, courses: list[_Course]) -> int:
        """Each syringe's volume shared between the formula's products (as ``demo.charts``
        does), each share from the lot of its product in use that day: the product's lots
        were received in turn, each used until the units of its box are gone or it is
        ``LOT_DAYS`` old. Returns how many lots were received."""
        parts: dict[int, list[tuple[Product, Decimal]]] = {}
        for course in courses:
            if course.version.pk not in parts:
                parts[course.version.pk] = [
                    (c.product, c.volume_ml or c.proportion or Decimal(0))
                    for c in FormulaComponent.objects.filter(
                        version=course.version, product__isnull=False
                    )
                    .select_related("product")
                    .order_by("position", "pk")
                    if c.product is not None
                ]
        # Every share of a product, in time order: (day, course, session, syringe, volume).
        uses: dict[Product, list[tuple[date, int, int, int, Decimal]]] = {}
        order = sorted(
            (s.starts_at, c, j)
            for c, course in enumerate(courses)
            for j, s in enumerate(course.sessions)
        )
        for at, c, j in order:
            products = parts[courses[c].version.pk]
            for k, syringe in enumerate(courses[c].sessions[j].syringes):
                shares = demo_charts._split(syringe.volume_ml, [part for _, part in products])
                for (product, _), share in zip(products, shares, strict=True):
                    if share > 0:
                        uses.setdefault(product, []).append((at.date(), c, j, k, share))
        lines: dict[tuple[int, int, int], list[LotDraw]] = {}
        received = 0
        for product, product_uses in uses.items():
            assert not product.multi_dose  # the library's products are single-dose
            for run in self._runs(product, product_uses):
                lot = self._receive(product, run)
                received += 1
                for _, c, j, k, share in run:
                    units = max(1, math.ceil(share / product.volume_ml))
                    lines.setdefault((c, j, k), []).append(LotDraw(lot, share, units))
        for c, course in enumerate(courses):
            for j, session in enumerate(course.sessions):
                course.sessions[j] = dataclasses.replace(
                    session,
                    syringes=tuple(
                        dataclasses.replace(syringe, lots=tuple(lines[c, j, k]))
                        for k, syringe in enumerate(session.syringes)
                    ),
                )
        return received

    def _runs(
        self, product: Product, uses: list[tuple[date, int, int, int, Decimal]]
    ) -> list[list[tuple[date, int, int, int, Decimal]]]:
        """The product's uses split into one run per lot, in time order."""
        runs: list[list[tuple[date, int, int, int, Decimal]]] = []
        capacity = units = 0
        for use in uses:
            needed = max(1, math.ceil(use[4] / product.volume_ml))
            if (
                not runs
                or units + needed > capacity
                or use[0] > runs[-1][0][0] + timedelta(days=LOT_DAYS)
            ):
                runs.append([])
                capacity, units = self.rng.choice(LOT_UNITS), 0
            runs[-1].append(use)
            units += needed
        return runs

    def _receive(self, product: Product, run: list[tuple[date, int, int, int, Decimal]]) -> Lot:
        """The run's lot, received shortly before its first use, holding exactly its units."""
        rng = self.rng
        first, last = run[0][0], run[-1][0]
        received_on = first - timedelta(days=rng.randint(3, 21))
        expiry = received_on + timedelta(days=rng.randint(*SHELF_LIFE_DAYS))
        low, high = (self.today + timedelta(days=d) for d in EXPIRY_CLEAR_OF)
        if low <= expiry <= high:
            expiry = low - timedelta(days=rng.randint(1, 30))
        assert expiry >= last
        plan = next(p for p in PRODUCTS if p.names[0] == product.name)
        return formulas.receive_lot(
            product=product,
            lot_number=_lot_number(rng, plan.lot_code, received_on, list(product.lots.all())),
            expiry_date=expiry,
            received_on=received_on,
            received_quantity=sum(max(1, math.ceil(u[4] / product.volume_ml)) for u in run),
            supplier=SUPPLIERS[self.clinic.slug],
            storage_notes=plan.storage,
            actor=self.desk,
        )

    # --- infections, measurements ----------------------------------------------------------

    def _infect(self, courses: list[_Course]) -> int:
        """Add the isolated infections to their sessions; returns how many there are."""
        rng = self.rng
        sessions = sorted(
            (s.starts_at, c, j)
            for c, course in enumerate(courses)
            for j, s in enumerate(course.sessions)
        )
        latest = self.today - timedelta(days=INFECTION_LATEST + INFECTION_ONSET[1])
        earliest = self.start
        until = self.start + timedelta(days=INFECTION_EARLY)
        planted = 0
        for organism, grade, treatment, lasting in INFECTIONS:
            candidates = [
                row for row in sessions if earliest <= row[0].date() <= min(until, latest)
            ]
            if not candidates:
                break
            at, c, j = rng.choice(candidates)
            day = at.date()
            onset = day + timedelta(days=rng.randint(*INFECTION_ONSET))
            session = courses[c].sessions[j]
            infection = EventDraw(
                side_effect="infection",
                onset_on=onset,
                grade=grade,
                outcome=EventOutcome.RESOLVED,
                resolved_on=onset + timedelta(days=lasting + rng.randint(0, 14)),
                treatment=treatment,
                notes=INFECTION_NOTE,
                organism=organism,
            )
            courses[c].sessions[j] = dataclasses.replace(
                session, events=(*session.events, infection)
            )
            planted += 1
            earliest, until = day + timedelta(days=INFECTION_APART), latest
        return planted

    def _measure(self, course: _Course) -> tuple[MeasurementDraw, ...]:
        """The baseline before the first session; for a course measured at the end, its
        value two to four weeks after the last session and both GAIS."""
        rng, arm = self.rng, course.arm
        scale = course.indication.primary_scale
        rows = [
            MeasurementDraw(
                scale=scale,
                value=on_scale(scale, course.baseline),
                measured_at=course.sessions[0].started_at - timedelta(minutes=10),
                time_point=TimePoint.BASELINE,
                site=arm.site,
                session=0,
            )
        ]
        if not course.measured:
            return tuple(rows)
        day = course.last_day + timedelta(days=rng.randint(14, 28))
        at = datetime.combine(day, time(rng.randint(9, 17), rng.choice((0, 15, 30, 45))), self.tz)
        better = -1.0 if scale.direction == Direction.LOWER_IS_BETTER else 1.0
        improvement = better * course.change
        rows.append(
            MeasurementDraw(
                scale=scale,
                value=on_scale(scale, course.baseline + course.change),
                measured_at=at,
                time_point=TimePoint.END,
                site=arm.site,
            )
        )
        for rater, noise in ((Rater.PRACTITIONER, 0.0), (Rater.PATIENT, 0.5)):
            level = gais_level(improvement + rng.gauss(0, noise * arm.noise), arm.noise)
            rows.append(
                MeasurementDraw(
                    scale=self.gais,
                    value=Decimal(level),
                    measured_at=at + timedelta(minutes=5),
                    time_point=TimePoint.END,
                    rater=rater,
                )
            )
        return tuple(rows)

    # --- writing -----------------------------------------------------------------------------

    def _draw(self, course: _Course) -> CourseDraw:
        assert course.patient is not None
        completed = course.held == course.planned
        return CourseDraw(
            patient=course.patient,
            practitioner=course.practitioner,
            indication=course.indication,
            version=course.version,
            protocol=self.protocol,
            areas=tuple(self.areas[code] for code in course.arm.areas),
            sessions_planned=course.planned,
            status=CourseStatus.COMPLETED if completed else CourseStatus.STOPPED,
            status_reason=course.stop_reason,
            completed_on=course.last_day if completed else None,
            created_at=course.starts[0] - timedelta(days=10),
            sessions=tuple(course.sessions),
            measurements=course.measurements,
            interval_days=INTERVAL_DAYS,
            tolerance_days=self.protocol.interval_tolerance_days,
            session_minutes=SESSION_MINUTES,
            maintenance_per_year=1,
        )

    def _after(self, courses: list[_Course], plans: list[CoursePlan]) -> None:
        """What the services add around a course: a stopped course's next session cancelled,
        a completed one's maintenance recall, the prescription a formula needs."""
        recall_called = self.today - RECALL_CALLED_AFTER
        recalls, cancelled, prescriptions = [], [], []
        needs = {
            version.pk: any(
                line.ingredient.needs_prescriber for line in formulas.composition(version)
            )
            for version in {course.version for course in courses}
        }
        name, registration = PRESCRIBERS[self.clinic.time_zone]
        for course, plan in zip(courses, plans, strict=True):
            if course.held < course.planned:
                at = course.starts[course.held]
                cancelled.append(
                    Appointment(
                        clinic=self.clinic,
                        patient=course.patient,
                        practitioner=course.practitioner,
                        room=self.rooms.get(ROOMS.get(course.practitioner.username, "")),
                        starts_at=at,
                        ends_at=at + timedelta(minutes=SESSION_MINUTES),
                        kind=AppointmentKind.SESSION,
                        plan=plan,
                        session_number=course.held + 1,
                        status=AppointmentStatus.CANCELLED,
                        status_reason=course.stop_reason,
                        created_by=course.practitioner,
                        created_at=course.starts[0] - timedelta(days=7),
                    )
                )
            else:
                due = add_months(course.last_day, 12)
                dismissed = due < recall_called
                recalls.append(
                    MaintenanceRecall(
                        plan=plan,
                        due_on=due,
                        status=MaintenanceStatus.DISMISSED if dismissed else MaintenanceStatus.DUE,
                        note=MAINTENANCE_DISMISSED if dismissed else "",
                    )
                )
            if needs[course.version.pk]:
                issued = course.starts[0].date() - timedelta(days=10)
                prescriptions.append(
                    Prescription(
                        plan=plan,
                        prescriber_name=name,
                        prescriber_registration=registration,
                        issued_on=issued,
                        notes="Compounded by the hospital pharmacy to this prescription.",
                        recorded_by=course.practitioner,
                        recorded_at=datetime.combine(issued, time(12), self.tz),
                    )
                )
        with past_times((Appointment, "created_at"), (Prescription, "recorded_at")):
            Appointment.objects.bulk_create(cancelled)
            MaintenanceRecall.objects.bulk_create(recalls)
            Prescription.objects.bulk_create(prescriptions)
