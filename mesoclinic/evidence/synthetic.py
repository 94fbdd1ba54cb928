"""Synthetic clinic records written in bulk: courses with their attended appointments,
screenings, signed charts (syringes, lots, areas, points), 24-hour follow-ups, side effects and
outcome measurements, as a caller drew them.

Two callers draw them: ``evidence.testing`` (registries with planted truth, for the evidence
reports' tests) and ``demo.history`` (the demo clinic's past two years). What to draw is
theirs; ``write_courses`` knows how the rows hang together and what the database asks of them.
Each kind of row is written in one bulk query (a few for a large registry), in time order, so
that primary keys follow the sessions; the past times given to ``auto_now_add`` fields are
kept; a chart's parts are in place before it is signed, by the one UPDATE a signed chart
allows; each lot used loses the units taken from it; each formula version is marked used from
its first session. The services are bypassed (they take a good part of a second a session),
so the caller draws only what they would accept: appointments that overlap no other of the
practitioner's or the room's (the database refuses them), lots in date, values on their scale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import cast

from django.db import models
from django.db.models import F
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, OutcomeScale, Protocol, SideEffect
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import (
    AreaTreatment,
    Chart,
    Device,
    InjectionPoint,
    Syringe,
    SyringeLot,
)
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    Room,
)
from mesoclinic.followup.models import (
    AdverseEvent,
    Causality,
    FollowUp,
    FollowUpChannel,
    Reporter,
)
from mesoclinic.formulas.models import FormulaVersion, Lot, LotUse
from mesoclinic.outcomes.models import Measurement, Rater
from mesoclinic.patients.models import Patient
from mesoclinic.screening.models import Outcome, Screening, Stage

RULESET = "synthetic registry"
# The hash a chart is signed with when the caller does not ask for its content's hash: the
# registries' tests do not read it, and hashing costs a few queries a chart.
SIGNED_HASH = hashlib.sha256(b"synthetic registry chart").hexdigest()
SIGNED_AFTER = timedelta(minutes=5)  # after the session ended
BOOKED_BEFORE = timedelta(days=7)  # an appointment is made a week before it
BATCH_SIZE = 1000


@dataclass(frozen=True)
class LotDraw:
    """A lot drawn into a syringe."""

    lot: Lot
    volume_ml: Decimal
    units: int = 1  # taken from stock: 0 for the rest of a multi-dose vial already open
    opens_unit: bool = False


@dataclass(frozen=True)
class PointDraw:
    view: str
    x: Decimal
    y: Decimal


@dataclass(frozen=True)
class AreaDraw:
    """An area treated from a syringe; its volume is ``volume_per_point_ml * point_count``."""

    body_area: BodyArea
    technique: str
    depth_mm: Decimal
    volume_per_point_ml: Decimal
    point_count: int
    side: str = ""
    points: tuple[PointDraw, ...] = ()


@dataclass(frozen=True)
class SyringeDraw:
    volume_ml: Decimal
    lots: tuple[LotDraw, ...]
    areas: tuple[AreaDraw, ...]
    device: str = Device.SYRINGE
    needle_gauge: int | None = 30
    needle_length_mm: Decimal = Decimal(4)
    injector_id: str = ""


@dataclass(frozen=True)
class FollowUpDraw:
    """The answers to a session's 24-hour check: a grade (0 for none) per question."""

    answered_at: datetime
    answered_by: User
    answers: Mapping[str, int]
    channel: str = FollowUpChannel.PHONE
    day_off_work: bool = False


@dataclass(frozen=True)
class EventDraw:
    """A side effect of a session, reported by its practitioner the day after its onset, or,
    ``at_follow_up``, still present at the session's 24-hour check and reported by it."""

    side_effect: str  # catalogue code
    onset_on: date
    grade: int
    outcome: str
    resolved_on: date | None = None
    treatment: str = ""
    notes: str = ""
    serious: bool = False
    organism: str = ""  # for an infection, when known
    at_follow_up: bool = False


@dataclass(frozen=True)
class SessionDraw:
    """An attended session of a course: its appointment and the signed chart of it."""

    starts_at: datetime  # the appointment; it lasts the course's session_minutes
    started_at: datetime
    ended_at: datetime
    syringes: tuple[SyringeDraw, ...]
    pain_score: int | None = None
    anaesthetic_product: str = ""
    anaesthetic_minutes: int | None = None
    immediate_reactions: str = ""
    aftercare_given: str = ""
    notes: str = ""
    room: Room | None = None
    follow_up: FollowUpDraw | None = None
    events: tuple[EventDraw, ...] = ()


@dataclass(frozen=True)
class MeasurementDraw:
    """A value rated by the course's practitioner (``rater`` says whose rating it is)."""

    scale: OutcomeScale
    value: Decimal
    measured_at: datetime
    time_point: str
    rater: str = Rater.PRACTITIONER
    site: str = ""
    note: str = ""
    session: int | None = None  # the course's session whose chart it belongs to, from 0


@dataclass(frozen=True)
class CourseDraw:
    patient: Patient  # saved
    practitioner: User
    indication: Indication
    version: FormulaVersion
    protocol: Protocol
    areas: tuple[BodyArea, ...]
    sessions_planned: int
    status: str
    created_at: datetime
    sessions: tuple[SessionDraw, ...]  # in time order, numbered 1, 2, ...
    measurements: tuple[MeasurementDraw, ...] = ()
    interval_days: int = 14
    tolerance_days: int = 3
    session_minutes: int = 30
    maintenance_per_year: int = 1
    status_reason: str = ""
    completed_on: date | None = None


@dataclass(frozen=True)
class WrittenSession:
    course: int  # index into the courses written
    number: int  # the session's index within its course, from 0
    chart: Chart


@dataclass(frozen=True)
class WrittenEvent:
    course: int
    number: int
    event: AdverseEvent


@dataclass(frozen=True)
class Written:
    plans: list[CoursePlan]  # as the courses were given
    sessions: list[WrittenSession]  # in time order
    events: list[WrittenEvent]  # sessions in time order, each session's events as drawn


def on_scale(scale: OutcomeScale, value: float) -> Decimal:
    """The nearest point of the scale (counted from its minimum), within its range."""
    low, high, step = scale.min_value, scale.max_value, scale.step
    steps = ((Decimal(repr(value)) - low) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(max(low + steps * step, low), high)


def gais_level(improvement: float, noise_sd: float) -> int:
    """The GAIS (1 very much improved .. 5 worse) of a true improvement, in units of the
    reading's noise: 2 or more reads 1, 1 or more 2, 0.3 or more 3, above -0.3 4, else 5."""
    z = improvement / noise_sd
    for level, threshold in ((1, 2.0), (2, 1.0), (3, 0.3)):
        if z >= threshold:
            return level
    return 4 if z > -0.3 else 5


@contextmanager
def past_times(*model_fields: tuple[type[models.Model], str]) -> Iterator[None]:
    """Let bulk_create keep the past times given to ``auto_now_add`` fields: synthetic rows
    were written when their sessions happened, not when they were generated."""
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


def write_courses(
    clinic: Clinic,
    courses: Sequence[CourseDraw],
    *,
    ruleset: str = RULESET,
    hash_charts: bool = False,
) -> Written:
    """Write ``courses`` into ``clinic`` (call it in a transaction). With ``hash_charts`` each
    chart is signed with its content's hash, as signing through the charts' services would;
    without, with ``SIGNED_HASH``, which saves a few queries a chart."""
    with past_times(
        (CoursePlan, "created_at"),
        (Appointment, "created_at"),
        (Chart, "created_at"),
        (LotUse, "recorded_at"),
        (FollowUp, "recorded_at"),
        (AdverseEvent, "reported_at"),
        (Measurement, "recorded_at"),
    ):
        return _Writer(clinic, courses, ruleset, hash_charts).write()


class _Writer:
    def __init__(
        self, clinic: Clinic, courses: Sequence[CourseDraw], ruleset: str, hash_charts: bool
    ) -> None:
        self.clinic, self.courses = clinic, courses
        self.ruleset, self.hash_charts = ruleset, hash_charts
        self.tz = clinic.tz
        self.now = timezone.now()
        # Sessions in time order, so that primary keys (and lot runs) follow the calendar.
        self.order = sorted(
            (session.starts_at, c, j)
            for c, course in enumerate(courses)
            for j, session in enumerate(course.sessions)
        )

    def session(self, c: int, j: int) -> SessionDraw:
        return self.courses[c].sessions[j]

    def write(self) -> Written:
        clinic, courses, order = self.clinic, self.courses, self.order
        plans = CoursePlan.objects.bulk_create(
            (
                CoursePlan(
                    clinic=clinic,
                    patient=course.patient,
                    indication=course.indication,
                    formula_version=course.version,
                    practitioner=course.practitioner,
                    protocol=course.protocol,
                    sessions_planned=course.sessions_planned,
                    interval_days=course.interval_days,
                    tolerance_days=course.tolerance_days,
                    session_minutes=course.session_minutes,
                    maintenance_per_year=course.maintenance_per_year,
                    status=course.status,
                    status_reason=course.status_reason,
                    completed_on=course.completed_on,
                    created_by=course.practitioner,
                    created_at=course.created_at,
                )
                for course in courses
            ),
            batch_size=BATCH_SIZE,
        )
        CoursePlan.areas.through.objects.bulk_create(
            (
                CoursePlan.areas.through(courseplan_id=plan.pk, bodyarea_id=area.pk)
                for plan, course in zip(plans, courses, strict=True)
                for area in course.areas
            ),
            batch_size=BATCH_SIZE,
        )
        appointments = Appointment.objects.bulk_create(
            (
                Appointment(
                    clinic=clinic,
                    patient=courses[c].patient,
                    practitioner=courses[c].practitioner,
                    room=self.session(c, j).room,
                    starts_at=at,
                    ends_at=at + timedelta(minutes=courses[c].session_minutes),
                    kind=AppointmentKind.SESSION,
                    plan=plans[c],
                    session_number=j + 1,
                    status=AppointmentStatus.ATTENDED,
                    created_by=courses[c].practitioner,
                    created_at=at - BOOKED_BEFORE,
                )
                for at, c, j in order
            ),
            batch_size=BATCH_SIZE,
        )
        screenings = Screening.objects.bulk_create(
            (
                Screening(
                    clinic=clinic,
                    patient=courses[c].patient,
                    appointment=appointment,
                    plan=plans[c],
                    practitioner=courses[c].practitioner,
                    session_date=timezone.localdate(at, self.tz),
                    stage=Stage.CHART,
                    ruleset_version=self.ruleset,
                    precare_window_days=7,
                    outcome=Outcome.CLEAR,
                    run_at=at,
                    run_by=courses[c].practitioner,
                )
                for (at, c, j), appointment in zip(order, appointments, strict=True)
            ),
            batch_size=BATCH_SIZE,
        )
        chart_rows = Chart.objects.bulk_create(
            (
                Chart(
                    clinic=clinic,
                    appointment=appointment,
                    patient=courses[c].patient,
                    plan=plans[c],
                    practitioner=courses[c].practitioner,
                    formula_version=courses[c].version,
                    screening=screening,
                    session_number=j + 1,
                    started_at=self.session(c, j).started_at,
                    ended_at=self.session(c, j).ended_at,
                    pain_score=self.session(c, j).pain_score,
                    anaesthetic_product=self.session(c, j).anaesthetic_product,
                    anaesthetic_minutes=self.session(c, j).anaesthetic_minutes,
                    immediate_reactions=self.session(c, j).immediate_reactions,
                    aftercare_given=self.session(c, j).aftercare_given,
                    notes=self.session(c, j).notes,
                    created_by=courses[c].practitioner,
                    created_at=at,
                )
                for (at, c, j), appointment, screening in zip(
                    order, appointments, screenings, strict=True
                )
            ),
            batch_size=BATCH_SIZE,
        )
        self._parts(chart_rows)
        self._sign(chart_rows)
        self._take_stock()
        follow_ups = self._follow_ups(chart_rows)
        events = self._events(chart_rows, follow_ups)
        self._measure(plans, chart_rows)
        return Written(
            plans=plans,
            sessions=[
                WrittenSession(c, j, chart)
                for (_, c, j), chart in zip(order, chart_rows, strict=True)
            ],
            events=events,
        )

    def _parts(self, chart_rows: list[Chart]) -> None:
        """Syringes, the lots drawn into them (each with its use of stock), the areas treated
        from them and their points."""
        drawn: list[tuple[Chart, SessionDraw, SyringeDraw]] = [
            (chart, self.session(c, j), syringe)
            for (_, c, j), chart in zip(self.order, chart_rows, strict=True)
            for syringe in self.session(c, j).syringes
        ]
        syringes = Syringe.objects.bulk_create(
            (
                Syringe(
                    chart=chart,
                    number=number,
                    device=syringe.device,
                    volume_ml=syringe.volume_ml,
                    needle_gauge=syringe.needle_gauge,
                    needle_length_mm=syringe.needle_length_mm,
                    injector_id=syringe.injector_id,
                )
                for (chart, _, syringe), number in zip(drawn, _numbers(drawn), strict=True)
            ),
            batch_size=BATCH_SIZE,
        )
        lines = [
            (chart, session, row, number, line)
            for (chart, session, syringe), row, number in zip(
                drawn, syringes, _numbers(drawn), strict=True
            )
            for line in syringe.lots
        ]
        uses = LotUse.objects.bulk_create(
            (
                LotUse(
                    lot=line.lot,
                    patient_id=chart.patient_id,
                    used_on=session.started_at,
                    volume_ml=line.volume_ml,
                    units=line.units,
                    formula_version_id=chart.formula_version_id,
                    reference=f"Chart {chart.pk}, syringe {number}",
                    recorded_by_id=chart.practitioner_id,
                    recorded_at=session.ended_at,
                )
                for chart, session, _, number, line in lines
            ),
            batch_size=BATCH_SIZE,
        )
        SyringeLot.objects.bulk_create(
            (
                SyringeLot(
                    chart=chart,
                    syringe=row,
                    lot=line.lot,
                    volume_ml=line.volume_ml,
                    opens_unit=line.opens_unit,
                    lot_use=use,
                )
                for (chart, _, row, _, line), use in zip(lines, uses, strict=True)
            ),
            batch_size=BATCH_SIZE,
        )
        areas: list[tuple[Chart, Syringe, AreaDraw, int]] = []
        position: dict[int, int] = {}
        for (chart, _, syringe), row in zip(drawn, syringes, strict=True):
            for area in syringe.areas:
                position[chart.pk] = position.get(chart.pk, 0) + 1
                areas.append((chart, row, area, position[chart.pk]))
        treated = AreaTreatment.objects.bulk_create(
            (
                AreaTreatment(
                    chart=chart,
                    position=number,
                    body_area=area.body_area,
                    side=area.side,
                    syringe=row,
                    technique=area.technique,
                    depth_mm=area.depth_mm,
                    volume_per_point_ml=area.volume_per_point_ml,
                    point_count=area.point_count,
                )
                for chart, row, area, number in areas
            ),
            batch_size=BATCH_SIZE,
        )
        points: list[InjectionPoint] = []
        numbered: dict[int, int] = {}
        for (chart, _, area, _), treatment in zip(areas, treated, strict=True):
            for point in area.points:
                numbered[chart.pk] = numbered.get(chart.pk, 0) + 1
                points.append(
                    InjectionPoint(
                        chart=chart,
                        area=treatment,
                        number=numbered[chart.pk],
                        view=point.view,
                        x=point.x,
                        y=point.y,
                    )
                )
        InjectionPoint.objects.bulk_create(points, batch_size=BATCH_SIZE)

    def _sign(self, chart_rows: list[Chart]) -> None:
        """Signing is the one UPDATE an unsigned chart allows; its parts are in place."""
        if not self.hash_charts:
            Chart.objects.filter(pk__in=[chart.pk for chart in chart_rows]).update(
                signed_at=F("ended_at") + SIGNED_AFTER,
                signed_by=F("practitioner"),
                content_sha256=SIGNED_HASH,
            )
            return
        # As stored: the hash covers the times as the database gives them back (in UTC).
        stored = list(Chart.objects.filter(pk__in=[chart.pk for chart in chart_rows]))
        for chart in stored:
            assert chart.ended_at is not None
            chart.content_sha256 = charts.content_hash(chart)
            chart.signed_at = chart.ended_at + SIGNED_AFTER
            chart.signed_by_id = chart.practitioner_id
        Chart.objects.bulk_update(
            stored, ["signed_at", "signed_by", "content_sha256"], batch_size=BATCH_SIZE
        )

    def _take_stock(self) -> None:
        """Each lot used loses the units taken; each version is used from its first session."""
        taken: dict[int, int] = {}
        first_use: dict[int, datetime] = {}
        for at, c, j in self.order:
            for syringe in self.session(c, j).syringes:
                for line in syringe.lots:
                    taken[line.lot.pk] = taken.get(line.lot.pk, 0) + line.units
            version = self.courses[c].version.pk
            first_use.setdefault(version, at)
        for lot, units in taken.items():
            Lot.objects.filter(pk=lot).update(remaining_units=F("remaining_units") - units)
        for version, at in first_use.items():
            used = FormulaVersion.objects.filter(pk=version)
            used.filter(models.Q(used_at__isnull=True) | models.Q(used_at__gt=at)).update(
                used_at=at
            )

    def _follow_ups(self, chart_rows: list[Chart]) -> dict[int, FollowUp]:
        """The answered 24-hour checks, by chart."""
        answered = [
            (chart, drawn)
            for (_, c, j), chart in zip(self.order, chart_rows, strict=True)
            if (drawn := self.session(c, j).follow_up) is not None
        ]
        saved = FollowUp.objects.bulk_create(
            (
                FollowUp(
                    clinic=self.clinic,
                    patient_id=chart.patient_id,
                    chart=chart,
                    channel=drawn.channel,
                    answered_at=drawn.answered_at,
                    answered_by=drawn.answered_by,
                    answers=dict(drawn.answers),
                    day_off_work=drawn.day_off_work,
                    recorded_at=drawn.answered_at,
                )
                for chart, drawn in answered
            ),
            batch_size=BATCH_SIZE,
        )
        return {follow_up.chart_id: follow_up for follow_up in saved}

    def _events(
        self, chart_rows: list[Chart], follow_ups: dict[int, FollowUp]
    ) -> list[WrittenEvent]:
        codes = {
            event.side_effect
            for course in self.courses
            for session in course.sessions
            for event in session.events
        }
        side_effects = {s.code: s for s in SideEffect.objects.filter(code__in=codes)}
        missing = codes - set(side_effects)
        if missing:
            raise ValueError(f"No side effect {', '.join(sorted(missing))} in the catalogue.")
        pending: list[tuple[int, int, AdverseEvent]] = []
        for (_, c, j), chart in zip(self.order, chart_rows, strict=True):
            session = self.session(c, j)
            # Where the session began: its first area.
            area = next(a.body_area for s in session.syringes for a in s.areas)
            for drawn in session.events:
                follow_up = follow_ups.get(chart.pk) if drawn.at_follow_up else None
                if drawn.at_follow_up and follow_up is None:
                    raise ValueError("An event at the follow-up needs the session's follow-up.")
                reported = min(
                    datetime.combine(drawn.onset_on + timedelta(days=1), time(10), tzinfo=self.tz),
                    self.now,
                )
                reporter_id = chart.practitioner_id
                if follow_up is not None:
                    reported, reporter_id = follow_up.answered_at, follow_up.answered_by_id
                pending.append(
                    (
                        c,
                        j,
                        AdverseEvent(
                            clinic=self.clinic,
                            patient_id=chart.patient_id,
                            chart=chart,
                            side_effect=side_effects[drawn.side_effect],
                            body_area=area,
                            onset_on=drawn.onset_on,
                            grade=drawn.grade,
                            serious=drawn.serious,
                            organism=drawn.organism,
                            treatment=drawn.treatment,
                            outcome=drawn.outcome,
                            resolved_on=drawn.resolved_on,
                            reporter=Reporter.STAFF,
                            reported_by_id=reporter_id,
                            reported_at=reported,
                            follow_up=follow_up,
                            causality=Causality.PROBABLE,
                            causality_by_id=chart.practitioner_id,
                            causality_at=reported,
                            notes=drawn.notes,
                        ),
                    )
                )
        saved = AdverseEvent.objects.bulk_create(
            (event for _, _, event in pending), batch_size=BATCH_SIZE
        )
        return [WrittenEvent(c, j, event) for (c, j, _), event in zip(pending, saved, strict=True)]

    def _measure(self, plans: list[CoursePlan], chart_rows: list[Chart]) -> None:
        charts_of = {(c, j): chart for (_, c, j), chart in zip(self.order, chart_rows, strict=True)}
        Measurement.objects.bulk_create(
            (
                Measurement(
                    clinic=self.clinic,
                    patient=course.patient,
                    plan=plan,
                    scale=drawn.scale,
                    value=drawn.value,
                    measured_at=drawn.measured_at,
                    rated_by=course.practitioner,
                    recorded_by=course.practitioner,
                    recorded_at=drawn.measured_at,
                    rater=drawn.rater,
                    site=drawn.site,
                    note=drawn.note,
                    time_point=drawn.time_point,
                    chart=None if drawn.session is None else charts_of[c, drawn.session],
                )
                for c, (course, plan) in enumerate(zip(self.courses, plans, strict=True))
                for drawn in course.measurements
            ),
            batch_size=BATCH_SIZE,
        )


def _numbers(drawn: Sequence[tuple[Chart, SessionDraw, SyringeDraw]]) -> list[int]:
    """Each syringe's number within its chart: 1, 2, ..."""
    numbers: list[int] = []
    seen: dict[int, int] = {}
    for chart, _, _ in drawn:
        seen[chart.pk] = seen.get(chart.pk, 0) + 1
        numbers.append(seen[chart.pk])
    return numbers
