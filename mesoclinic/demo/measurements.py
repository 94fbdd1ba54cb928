"""The demo's outcome measurements: each charted course measured on its indication's primary
scale, as a clinic that follows its patients would, and honestly mixed.

A scale read at a named site is read at one in an area the course treats, the same at every
visit: the navel for the abdomen, the widest point for the hips, the thigh above the knee, and
for fat under the chin a tape round the upper neck just beneath it. The catalogue has no
rating scale of its own for that fat, so its courses use the catalogue's circumference at a
landmark, like every localised-fat course, with values of a neck's size.

A course's trend is drawn once: about a quarter improve, more than half do not change beyond
the scale's measurement noise, and about one in six get worse, because that is what thin
evidence and uncontrolled clinic data look like. The value is measured before the first
session's treatment (baseline), after every second session, and at the end of a finished
course, with the practitioner's and the patient's global ratings (GAIS) and the patient's
satisfaction; a three-month value where that date has passed. Some courses miss their
baseline or their end measurement (a busy day, a patient who did not come back), and the
course page shows them as missing. Values are rounded to the scale's step and kept within its
range, and recorded through ``services.record_measurement``, which computes each time point.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from mesoclinic.catalogue.models import OutcomeScale
from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.courses.models import CoursePlan, CourseStatus
from mesoclinic.outcomes.models import Rater
from mesoclinic.outcomes.services import record_measurement

# The course's trend, and how often it is drawn.
TRENDS = (("improves", 0.27), ("unchanged", 0.57), ("worsens", 0.16))
NO_BASELINE_SHARE = 0.08
NO_END_SHARE = 0.15


@dataclass(frozen=True)
class _Profile:
    """How a scale's values look in the demo: the baseline's range, the whole course's change
    when it improves or worsens (signed, in the scale's units), and the noise of one reading;
    for a scale read at a named site, the site as the practitioner writes it and the code of
    the body area it lies in."""

    baseline: tuple[float, float]
    improves: tuple[float, float]
    worsens: tuple[float, float]
    noise: float
    site: str = ""
    area: str = ""


# A scale read at a named site has a profile for each area the demo reads it in, since the
# values depend on the place: a neck is no waist.
PROFILES = {
    "circumference": (
        _Profile((78, 104), (-4.5, -1.5), (1, 2.5), 0.6, "navel, standing", "abdomen"),
        _Profile(
            (94, 114), (-3.5, -1), (1, 2.5), 0.6, "widest point of the hips, standing", "hips"
        ),
        _Profile(
            (50, 64),
            (-2.5, -0.8),
            (0.5, 1.5),
            0.5,
            "right thigh, 15 cm above the kneecap, standing",
            "thighs",
        ),
        _Profile(
            (33, 41),
            (-1.2, -0.3),
            (0.3, 0.8),
            0.3,
            "upper neck, under the chin, head level",
            "submental",
        ),
    ),
    "hexsel-css": (_Profile((6, 12), (-4, -2), (1, 2), 0.7),),
    "lemperle": (_Profile((2, 4), (-1.4, -0.8), (0.6, 1.2), 0.3, "crow's feet, at rest", "face"),),
    "laxity-grade": (_Profile((1, 3), (-1.2, -0.6), (0.6, 1), 0.25),),
    "mmasi": (_Profile((4, 12), (-4, -1.5), (1, 2.5), 0.6),),
    "hair-density": (
        _Profile((105, 165), (8, 16), (-12, -6), 5, "vertex, marked target area", "vertex"),
    ),
    "goodman-baron": (_Profile((2, 4), (-1.2, -0.6), (0.6, 1), 0.25),),
    "pain-nrs": (_Profile((5, 8), (-4, -2), (1, 2), 0.8),),
}
# GAIS (1 very much improved .. 5 worse) and satisfaction (0-10) by trend.
GAIS = {"improves": (1, 3), "unchanged": (3, 4), "worsens": (4, 5)}
SATISFACTION = {"improves": (7, 10), "unchanged": (3, 7), "worsens": (0, 4)}


@dataclass
class MeasurementCounts:
    measurements: int = 0
    courses: int = 0
    trends: dict[str, int] | None = None


def profile_for(scale: str, reach: Collection[str]) -> _Profile | None:
    """The profile a course is read with on ``scale``, ``reach`` being the codes of the areas
    it treats and of their sub-areas: the first whose site lies within them. ``None`` for a
    scale the demo does not read (its courses have only the global ratings)."""
    profiles = PROFILES.get(scale, ())
    for profile in profiles:
        if not profile.area or profile.area in reach:
            return profile
    if profiles:
        raise ValueError(
            f"The demo reads {scale} at no site within {', '.join(sorted(reach)) or 'no area'}: "
            "give it a profile for one of those areas."
        )
    return None


def _on_scale(scale: OutcomeScale, value: float) -> Decimal:
    steps = ((Decimal(str(value)) - scale.min_value) / scale.step).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return min(max(scale.min_value + steps * scale.step, scale.min_value), scale.max_value)


class Measurer:
    def __init__(self, rng: random.Random, clinic: Clinic, now: datetime) -> None:
        self.rng, self.clinic, self.now = rng, clinic, now
        self.counts = MeasurementCounts(trends={name: 0 for name, _ in TRENDS})
        desk = User.objects.filter(clinic=clinic, role=Role.ASSISTANT).order_by("pk").first()
        assert desk is not None
        self.desk = desk

    def _trend(self) -> str:
        roll, total = self.rng.random(), 0.0
        for name, share in TRENDS:
            total += share
            if roll < total:
                return name
        return TRENDS[-1][0]

    def _record(
        self,
        plan: CoursePlan,
        scale: OutcomeScale,
        value: Decimal,
        at: datetime,
        rater: str,
        site: str = "",
    ) -> None:
        # The practitioner rates and records their own readings; the front desk records
        # the patient's answers.
        recorder = plan.practitioner if rater == Rater.PRACTITIONER else self.desk
        record_measurement(plan, scale, value, at, rater, recorder, recorder, site=site)
        self.counts.measurements += 1

    def measure(self, plan: CoursePlan) -> None:
        charts = list(
            Chart.objects.filter(plan=plan, signed_at__isnull=False)
            .select_related("appointment")
            .order_by("appointment__starts_at")
        )
        if not charts:
            return
        rng, scale = self.rng, plan.indication.primary_scale
        trend = self._trend()
        assert self.counts.trends is not None
        self.counts.trends[trend] += 1
        self.counts.courses += 1
        over = plan.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED)
        reach = {
            area.code
            for treated in plan.areas.all()
            for area in (treated, *treated.sub_areas.all())
        }
        profile = profile_for(scale.code, reach)
        if profile is not None:
            self._series(plan, scale, profile, trend, charts, over)
        if over and plan.status == CourseStatus.COMPLETED and rng.random() >= NO_END_SHARE:
            self._ratings(plan, trend, charts[-1])

    def _series(
        self,
        plan: CoursePlan,
        scale: OutcomeScale,
        profile: _Profile,
        trend: str,
        charts: list[Chart],
        over: bool,
    ) -> None:
        rng = self.rng
        baseline = rng.uniform(*profile.baseline)
        change = 0.0 if trend == "unchanged" else rng.uniform(*getattr(profile, trend))

        def reading(progress: float) -> Decimal:
            return _on_scale(scale, baseline + change * progress + rng.gauss(0, profile.noise))

        first = charts[0]
        assert first.started_at is not None
        if rng.random() >= NO_BASELINE_SHARE:
            at = first.started_at - timedelta(minutes=15)
            self._record(plan, scale, reading(0), at, Rater.PRACTITIONER, profile.site)
        planned = plan.sessions_planned
        for chart in charts[1 : -1 if over else None]:
            number = chart.session_number or 0
            if number % 2 == 1 and chart.ended_at is not None:
                at = chart.ended_at + timedelta(minutes=5)
                self._record(
                    plan, scale, reading(number / planned), at, Rater.PRACTITIONER, profile.site
                )
        last = charts[-1]
        if over and last.ended_at is not None and rng.random() >= NO_END_SHARE:
            at = last.ended_at + timedelta(minutes=10)
            self._record(plan, scale, reading(1), at, Rater.PRACTITIONER, profile.site)
            later = at + timedelta(days=91)
            if later <= self.now:
                self._record(plan, scale, reading(0.8), later, Rater.PRACTITIONER, profile.site)

    def _ratings(self, plan: CoursePlan, trend: str, last: Chart) -> None:
        assert last.ended_at is not None
        at = last.ended_at + timedelta(minutes=12)
        gais = OutcomeScale.objects.get(code="gais")
        satisfaction = OutcomeScale.objects.get(code="satisfaction")
        for rater in (Rater.PRACTITIONER, Rater.PATIENT):
            self._record(plan, gais, Decimal(self.rng.randint(*GAIS[trend])), at, rater)
        self._record(
            plan, satisfaction, Decimal(self.rng.randint(*SATISFACTION[trend])), at, Rater.PATIENT
        )


def build_measurements(rngs: list[random.Random], clinics: list[Clinic]) -> MeasurementCounts:
    now = timezone.now()
    total = MeasurementCounts(trends={name: 0 for name, _ in TRENDS})
    for rng, clinic in zip(rngs, clinics, strict=True):
        measurer = Measurer(rng, clinic, now)
        for plan in (
            CoursePlan.objects.filter(clinic=clinic)
            .select_related("indication__primary_scale", "practitioner")
            .prefetch_related("areas__sub_areas")
            .order_by("pk")
        ):
            measurer.measure(plan)
        total.measurements += measurer.counts.measurements
        total.courses += measurer.counts.courses
        assert total.trends is not None and measurer.counts.trends is not None
        for name, n in measurer.counts.trends.items():
            total.trends[name] += n
    return total
