"""The outcome report's SQL against a hand computation on small synthetic registries: the
counts, means, intervals and shares of every grouping, drop-out, retracted measurements,
the period in the clinic's calendar, and the scope (clinic B's courses never in clinic A's)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from scipy import stats as scipy_stats

from mesoclinic.catalogue.models import Indication, OutcomeScale
from mesoclinic.charts.models import Technique
from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import CoursePlan, CourseStatus
from mesoclinic.evidence.comparison import CourseChange, compare_formulas
from mesoclinic.evidence.effects import (
    CSV_HEADER,
    NO_FORMULA,
    Counts,
    GroupRow,
    IndicationReport,
    _change_rows,
    course_rows,
    csv_rows,
    improvement_rule,
    outcome_report,
    summarise,
)
from mesoclinic.evidence.filters import Filters, pseudonym
from mesoclinic.evidence.stats import MIN_COURSES, NOT_ENOUGH_DATA
from mesoclinic.evidence.testing import Course, RegistrySpec, build_registry
from mesoclinic.formulas.models import Ingredient
from mesoclinic.outcomes.models import Measurement, Rater, TimePoint

pytestmark = pytest.mark.usefixtures("catalogue")

# Pain relief: the pain NRS (0-10, lower is better) is the one primary scale with a published
# minimal important difference (2 points), so the share improved is exercised too.
PAIN = RegistrySpec(
    seed=11,
    indication="pain-relief",
    practitioners=3,
    courses_per_formula=9,
    baseline_mean=7.0,
    baseline_sd=1.2,
    end_measured=0.7,
)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _hand(courses: Iterable[Course], mid: float | None = 2.0) -> dict[str, Any]:
    """The figures of one group, computed from the planted registry's recorded values."""
    courses = list(courses)
    changes = [float(c.recorded_change) for c in courses if c.recorded_change is not None]
    n = len(changes)
    mean = sum(changes) / n if n else math.nan
    half = math.nan
    if n >= 2:
        sd = math.sqrt(sum((x - mean) ** 2 for x in changes) / (n - 1))
        half = scipy_stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    rated = [c for c in courses if c.gais_practitioner is not None]
    patient = [c for c in courses if c.gais_patient is not None]
    return {
        "courses": len(courses),
        "complete": n,
        "ended_without_end": sum(c.end is None for c in courses),
        "mean": mean,
        "low": mean - half,
        "high": mean + half,
        "improved": sum(x <= -mid for x in changes) if mid else None,
        "practitioner": (len(rated), sum(c.gais_practitioner <= 3 for c in rated)),  # type: ignore[operator]
        "patient": (len(patient), sum(c.gais_patient <= 3 for c in patient)),  # type: ignore[operator]
    }


def _check(row: GroupRow, hand: dict[str, Any]) -> None:
    c = row.counts
    assert (c.courses, c.complete, c.ended_without_end) == (
        hand["courses"],
        hand["complete"],
        hand["ended_without_end"],
    ), row.label
    assert (c.without_baseline, c.running_without_end) == (0, 0)
    assert (c.practitioner_rated, c.practitioner_improved) == hand["practitioner"]
    assert (c.patient_rated, c.patient_improved) == hand["patient"]
    if hand["complete"] < MIN_COURSES:
        assert row.change is None and row.improved is None
        return
    assert row.change is not None
    assert row.change.n == hand["complete"]
    for got, want in zip(
        (row.change.value, row.change.low, row.change.high),
        (hand["mean"], hand["low"], hand["high"]),
        strict=True,
    ):
        assert got == pytest.approx(want, abs=1e-9)
    if hand["improved"] is not None:
        assert c.improved == hand["improved"]
        assert row.improved is not None and row.improved.value == pytest.approx(
            hand["improved"] / hand["complete"]
        )


def _by(courses: list[Course], key: Callable[[Course], Any]) -> dict[Any, list[Course]]:
    found: dict[Any, list[Course]] = defaultdict(list)
    for course in courses:
        found[key(course)].append(course)
    return found


def _rows(part: IndicationReport, grouping: str) -> dict[str, GroupRow]:
    (found,) = [g for g in part.groupings if g.key == grouping]
    return {row.label: row for row in found.rows}


def test_report_matches_a_hand_computation(clinic_a: Clinic, clinic_b: Clinic) -> None:
    registry = build_registry(clinic_a, PAIN)
    build_registry(clinic_b, RegistrySpec(seed=12, indication="pain-relief", baseline_mean=7.0))
    courses = registry.courses

    report = outcome_report(Filters(clinic_ids=[clinic_a.pk]))

    (part,) = report.indications
    assert part.indication.code == "pain-relief" and part.scale.code == "pain-nrs"
    assert part.has_share and "fall of at least 2" in part.improvement_rule
    _check(part.overall, _hand(courses))  # clinic B's courses are not among them
    formulas = _rows(part, "formula")
    assert set(formulas) == {"Formula A", "Formula B"}
    for name, mine in _by(courses, lambda c: c.formula).items():
        _check(formulas[name], _hand(mine))
    practitioners = _rows(part, "practitioner")
    names = {p.pk: str(p) for p in registry.practitioners}
    assert set(practitioners) == set(names.values())
    for pk, mine in _by(courses, lambda c: c.practitioner_id).items():
        _check(practitioners[names[pk]], _hand(mine))

    # A course counts under each technique of its sessions (injector gun or nappage here).
    techniques: dict[str, set[int]] = defaultdict(set)
    for session in registry.sessions:
        technique = Technique.INJECTOR if session.device == "injector" else Technique.NAPPAGE
        techniques[technique.label].add(session.plan_id)
    rows = _rows(part, "technique")
    assert set(rows) == set(techniques)
    for label, plan_ids in techniques.items():
        _check(rows[label], _hand(c for c in courses if c.plan_id in plan_ids))

    # Each formula holds its product's L-carnitine (amino acids) and its own ingredient.
    classes: dict[str, set[str]] = defaultdict(set)
    for truth in PAIN.formulas:
        for ingredient in ("L-carnitine", truth.ingredient):
            found = Ingredient.objects.get(clinic__isnull=True, name=ingredient).ingredient_class
            classes[found.label].add(truth.name)
    rows = _rows(part, "class")
    assert set(rows) == set(classes)
    for label, names_in in classes.items():
        _check(rows[label], _hand(c for c in courses if c.formula in names_in))

    # The comparison fits exactly the complete courses, one row each.
    versions = {name: v.formula_id for name, v in registry.versions.items()}
    hand_rows = [
        CourseChange(
            versions[c.formula], c.practitioner_id, float(c.baseline), float(c.recorded_change)
        )
        for c in courses
        if c.recorded_change is not None
    ]
    labels = {formula_id: name for name, formula_id in versions.items()}
    assert part.comparison == compare_formulas(hand_rows, labels)


def test_report_is_a_fixed_number_of_queries(
    clinic_a: Clinic, django_assert_max_num_queries: Any
) -> None:
    build_registry(clinic_a, PAIN)
    # The grouped queries, the labels, the complete courses: never one per course.
    with django_assert_max_num_queries(10):
        outcome_report(Filters(clinic_ids=[clinic_a.pk]))


def test_below_the_threshold_is_not_enough_data(clinic_a: Clinic) -> None:
    spec = RegistrySpec(seed=5, courses_per_formula=MIN_COURSES - 1, end_measured=1.0)
    build_registry(clinic_a, spec)

    (part,) = outcome_report(Filters(clinic_ids=[clinic_a.pk])).indications

    # Cellulite's Hexsel scale has no published MID: no share, and the page says why.
    assert not part.has_share and "No minimal important difference" in part.improvement_rule
    for row in _rows(part, "formula").values():
        assert row.counts.complete == MIN_COURSES - 1
        assert row.counts.practitioner_rated == MIN_COURSES - 1
        assert not row.enough
        assert row.change is row.improved is row.practitioner_gais is row.patient_gais is None
    assert part.overall.change is not None and part.overall.counts.complete == 2 * (MIN_COURSES - 1)
    assert part.overall.improved is None  # no rule, whatever N
    assert part.comparison.contrasts == []
    lines = csv_rows(outcome_report(Filters(clinic_ids=[clinic_a.pk])))
    formula_lines = [line for line in lines if line[2] == "By formula"]
    assert len(formula_lines) == 2
    for line in formula_lines:
        assert len(line) == len(CSV_HEADER)
        assert line[CSV_HEADER.index("mean_change")] == NOT_ENOUGH_DATA
        assert line[CSV_HEADER.index("with_baseline_and_end")] == MIN_COURSES - 1
        assert line[CSV_HEADER.index("improved_share")] == ""


def _retract(measurement: Measurement, by: Any) -> None:
    Measurement.objects.filter(pk=measurement.pk).update(
        retracted_at=timezone.now(), retracted_by=by, retraction_reason="Entered in error."
    )


def test_drop_out_counted_and_retracted_measurements_ignored(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, PAIN)
    courses = registry.courses
    complete = [c for c in courses if c.end is not None]
    stopped = [c for c in courses if c.end is None]
    by = registry.practitioners[0]
    scale = registry.scale

    def primary(course: Course, point: str) -> Measurement:
        return Measurement.objects.get(plan_id=course.plan_id, scale=scale, time_point=point)

    # A completed course whose end value is retracted: ended without an end value.
    lost_end = complete[0]
    _retract(primary(lost_end, TimePoint.END), by)
    # A course whose baseline is retracted: without baseline (its end no longer counts).
    lost_baseline = complete[1]
    _retract(primary(lost_baseline, TimePoint.BASELINE), by)
    # A course still running, with a baseline and no end yet.
    running = stopped[0]
    CoursePlan.objects.filter(pk=running.plan_id).update(status=CourseStatus.ACTIVE)
    # A wild end value entered in error and retracted: ignored.
    steady = complete[2]
    wild = Measurement.objects.create(
        clinic=clinic_a,
        patient_id=steady.patient_id,
        plan_id=steady.plan_id,
        scale=scale,
        value=Decimal(10),
        measured_at=timezone.now() - timedelta(days=1),
        time_point=TimePoint.END,
        rater=Rater.PRACTITIONER,
        rated_by=by,
        recorded_by=by,
    )
    _retract(wild, by)
    # A second current baseline reading at the same site: the baseline is their mean.
    averaged = complete[3]
    second = averaged.baseline + 1 if averaged.baseline < 10 else averaged.baseline - 1
    Measurement.objects.create(
        clinic=clinic_a,
        patient_id=averaged.patient_id,
        plan_id=averaged.plan_id,
        scale=scale,
        value=second,
        measured_at=primary(averaged, TimePoint.BASELINE).measured_at,
        time_point=TimePoint.BASELINE,
        rater=Rater.PRACTITIONER,
        rated_by=by,
        recorded_by=by,
    )

    overall = outcome_report(Filters(clinic_ids=[clinic_a.pk])).indications[0].overall

    kept = [c for c in complete if c not in (lost_end, lost_baseline)]
    changes = [float(c.recorded_change) for c in kept if c is not averaged]  # type: ignore[arg-type]
    assert averaged.end is not None
    changes.append(float(averaged.end) - float(averaged.baseline + second) / 2)
    assert overall.counts == Counts(
        courses=len(courses),
        without_baseline=1,
        running_without_end=1,
        ended_without_end=len(stopped) - 1 + 1,
        complete=len(kept),
        change_sum=pytest.approx(sum(changes)),  # type: ignore[arg-type]
        change_sum_of_squares=pytest.approx(sum(x * x for x in changes)),  # type: ignore[arg-type]
        improved=sum(x <= -2 for x in changes),
        # GAIS ratings at the end are not on the primary scale: nothing above touched them.
        practitioner_rated=len(complete),
        practitioner_improved=sum(c.gais_practitioner <= 3 for c in complete),  # type: ignore[operator]
        patient_rated=len(complete),
        patient_improved=sum(c.gais_patient <= 3 for c in complete),  # type: ignore[operator]
    )


def test_values_are_paired_by_site(clinic_a: Clinic) -> None:
    # Circumference is measured at a named site (the registry's mid-thigh landmark).
    registry = build_registry(
        clinic_a,
        RegistrySpec(
            seed=21, indication="localised-fat", baseline_mean=90.0, baseline_sd=6.0, noise_sd=2.0
        ),
    )
    courses, scale, by = registry.courses, registry.scale, registry.practitioners[0]
    complete = [c for c in courses if c.end is not None]
    stopped = [c for c in courses if c.end is None]

    def record(course: Course, site: str, value: Decimal, point: str) -> None:
        Measurement.objects.create(
            clinic=clinic_a,
            patient_id=course.patient_id,
            plan_id=course.plan_id,
            scale=scale,
            value=value,
            site=site,
            measured_at=timezone.now() - timedelta(days=1),
            time_point=point,
            rater=Rater.PRACTITIONER,
            rated_by=by,
            recorded_by=by,
        )

    def move_end(course: Course) -> None:
        """The end measured at the other thigh only: no site in common with the baseline."""
        end = Measurement.objects.get(plan_id=course.plan_id, scale=scale, time_point=TimePoint.END)
        _retract(end, by)
        record(course, "right mid-thigh", end.value, TimePoint.END)

    # Both thighs at baseline, only the left one (the registry's site) at the end: the change
    # is the left thigh's. Averaging the two baselines would move it by 2 cm.
    two_sites = complete[0]
    record(two_sites, "right mid-thigh", two_sites.baseline + 4, TimePoint.BASELINE)
    # No site in common: without an end value, by the course's status; never complete.
    unpaired, unpaired_running = complete[1], complete[2]
    move_end(unpaired)
    move_end(unpaired_running)
    CoursePlan.objects.filter(pk=unpaired_running.plan_id).update(status=CourseStatus.ACTIVE)
    # Both thighs paired, the right one read twice at baseline: each site's change from its own
    # mean, then their mean (+1.5 over the left thigh's change). Pooling every paired reading
    # instead would give +0.67.
    both_paired = complete[3]
    assert both_paired.end is not None
    record(both_paired, "right mid-thigh", both_paired.baseline + 4, TimePoint.BASELINE)
    record(both_paired, "right mid-thigh", both_paired.baseline + 6, TimePoint.BASELINE)
    record(both_paired, "right mid-thigh", both_paired.end + 8, TimePoint.END)

    report = outcome_report(Filters(clinic_ids=[clinic_a.pk]))

    (part,) = report.indications
    kept = sorted(
        (c for c in complete if c not in (unpaired, unpaired_running)), key=lambda c: c.plan_id
    )
    changes = [
        float(c.end - c.baseline) + (1.5 if c is both_paired else 0)
        for c in kept
        if c.end is not None
    ]
    counts = part.overall.counts
    assert (
        counts.courses,
        counts.without_baseline,
        counts.running_without_end,
        counts.ended_without_end,
        counts.complete,
    ) == (len(courses), 0, 1, len(stopped) + 1, len(kept))
    assert counts.change_sum == pytest.approx(sum(changes))
    assert counts.change_sum_of_squares == pytest.approx(sum(x * x for x in changes))
    # The adjusted comparison reads the same paired values (its rows in course order): the
    # left thigh's baseline, not the mean of both.
    rows = _change_rows(course_rows(Filters(clinic_ids=[clinic_a.pk])))[part.indication.pk]
    assert [r.change for r in rows] == pytest.approx(changes)
    paired = rows[kept.index(two_sites)]
    assert paired.baseline == pytest.approx(float(two_sites.baseline))
    assert rows[kept.index(both_paired)].baseline == pytest.approx(
        float(both_paired.baseline) + 2.5
    )
    assert "paired by site" in report.values_rule


def test_period_filter_by_baseline_day_in_the_clinic_calendar(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, PAIN)
    tz = clinic_a.tz
    baseline_day = {
        m.plan_id: timezone.localdate(m.measured_at, tz)
        for m in Measurement.objects.filter(
            plan__clinic=clinic_a, time_point=TimePoint.BASELINE, scale=registry.scale
        )
    }
    days = sorted(set(baseline_day.values()))
    start, end = days[1], days[3]
    inside = [c for c in registry.courses if start <= baseline_day[c.plan_id] <= end]
    assert 0 < len(inside) < len(registry.courses)

    report = outcome_report(Filters(clinic_ids=[clinic_a.pk], start=start, end=end))

    _check(report.indications[0].overall, _hand(inside))
    # A single day holds that day's courses, read in Paris time.
    one = outcome_report(Filters(clinic_ids=[clinic_a.pk], start=days[0], end=days[0]))
    assert one.indications[0].overall.counts.courses == sum(
        day == days[0] for day in baseline_day.values()
    )


def test_filters_by_indication_and_practitioner(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, PAIN)
    practitioner = registry.practitioners[1]

    report = outcome_report(Filters(clinic_ids=[clinic_a.pk], practitioner=practitioner))
    mine = [c for c in registry.courses if c.practitioner_id == practitioner.pk]
    _check(report.indications[0].overall, _hand(mine))

    # An indication without courses is still reported, empty, not left out.
    cellulite = Indication.objects.get(code="cellulite")
    (part,) = outcome_report(Filters(clinic_ids=[clinic_a.pk], indication=cellulite)).indications
    assert part.indication == cellulite and part.overall.counts == Counts()
    assert all(g.rows == [] for g in part.groupings)


def test_researcher_scope_counts_every_clinic_under_pseudonyms(
    clinic_a: Clinic, clinic_b: Clinic
) -> None:
    a = build_registry(clinic_a, PAIN)
    b = build_registry(clinic_b, RegistrySpec(seed=12, indication="pain-relief", baseline_mean=7.0))

    report = outcome_report(Filters(clinic_ids=[clinic_a.pk, clinic_b.pk], pseudonymous=True))

    (part,) = report.indications
    assert part.overall.counts.courses == len(a.courses) + len(b.courses)
    practitioners = set(_rows(part, "practitioner"))
    everyone = a.practitioners + b.practitioners
    assert practitioners == {pseudonym("Practitioner", p.pk) for p in everyone}
    text = repr(report) + repr(csv_rows(report))
    for person in everyone:
        assert person.last_name not in text
    for patient in a.patients + b.patients:
        assert patient.family_name not in text and patient.given_name not in text
    # Formulas of two clinics may share a name: the clinic tells them apart.
    assert f"Formula A ({clinic_a.name})" in _rows(part, "formula")
    assert f"Formula A ({clinic_b.name})" in _rows(part, "formula")


def test_a_course_without_formula_is_its_own_group(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, PAIN)
    orphan = registry.courses[0]
    CoursePlan.objects.filter(pk=orphan.plan_id).update(formula_version=None)

    (part,) = outcome_report(Filters(clinic_ids=[clinic_a.pk])).indications

    assert _rows(part, "formula")[NO_FORMULA].counts.courses == 1
    # Not in any ingredient class: it has no formula version.
    assert sum(r.counts.courses for r in _rows(part, "class").values()) == 2 * (
        len(registry.courses) - 1
    )


# --- pure parts ---------------------------------------------------------------------------------


def test_improvement_rule_by_scale(db: None) -> None:
    assert improvement_rule(OutcomeScale.objects.get(code="pain-nrs"))[0]
    assert not improvement_rule(OutcomeScale.objects.get(code="hexsel-css"))[0]
    has, text = improvement_rule(OutcomeScale.objects.get(code="body-weight"))
    assert not has and "no better direction" in text


def test_summarise_applies_the_threshold_to_each_figure() -> None:
    counts = Counts(
        courses=9,
        complete=MIN_COURSES,
        change_sum=-10.0,
        change_sum_of_squares=30.0,
        improved=3,
        practitioner_rated=MIN_COURSES - 1,
        practitioner_improved=2,
        patient_rated=MIN_COURSES,
        patient_improved=5,
    )
    row = summarise(1, "F", counts, has_share=True)
    assert row.change is not None and row.change.value == -2.0 and row.change.n == MIN_COURSES
    assert row.improved is not None and row.improved.value == 3 / MIN_COURSES
    assert row.practitioner_gais is None  # its own N is below the threshold
    assert row.patient_gais is not None and row.patient_gais.value == 1.0
    assert summarise(1, "F", counts, has_share=False).improved is None


def test_gais_is_the_latest_current_rating_at_the_end(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, PAIN)
    complete = [c for c in registry.courses if c.end is not None]
    by = registry.practitioners[0]
    course = complete[0]
    rated = Measurement.objects.get(
        plan_id=course.plan_id,
        scale__code="gais",
        time_point=TimePoint.END,
        rater=Rater.PRACTITIONER,
    )
    flipped = Decimal(5) if rated.value <= 3 else Decimal(1)

    def rate(value: Decimal, hours: int) -> Measurement:
        return Measurement.objects.create(
            clinic=clinic_a,
            patient_id=course.patient_id,
            plan_id=course.plan_id,
            scale=rated.scale,
            value=value,
            measured_at=rated.measured_at + timedelta(hours=hours),
            time_point=TimePoint.END,
            rater=Rater.PRACTITIONER,
            rated_by=by,
            recorded_by=by,
        )

    # A later rating replaces the first; a still later one, retracted, does not count.
    rate(flipped, 1)
    _retract(rate(rated.value, 2), by)

    overall = outcome_report(Filters(clinic_ids=[clinic_a.pk])).indications[0].overall

    improved = sum(c.gais_practitioner <= 3 for c in complete)  # type: ignore[operator]
    assert overall.counts.practitioner_rated == len(complete)
    assert overall.counts.practitioner_improved == improved + (1 if flipped <= 3 else -1)


def test_an_empty_scope_is_an_empty_report(db: None) -> None:
    assert outcome_report(Filters(clinic_ids=[])).indications == []
