"""Safety evidence: the statistics on aggregated rows (pure, with a coverage simulation), and
the grouped queries against a hand count of small registries."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from scipy import stats as scipy_stats

from mesoclinic.catalogue.models import Indication
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart, Device
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.evidence.filters import Filters, pseudonym
from mesoclinic.evidence.safety import (
    OTHER_KEY,
    Grouping,
    SafetyReport,
    median_interval,
    quantile,
    quantiles,
    rate,
    safety_report,
)
from mesoclinic.evidence.stats import MIN_COURSES
from mesoclinic.evidence.testing import Registry, RegistrySpec, build_registry
from mesoclinic.followup import services as followup
from mesoclinic.followup.models import AdverseEvent, FollowUpChannel, Reporter
from mesoclinic.followup.testing import no_answers, signed_chart
from mesoclinic.formulas.models import Lot
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.screening.tests.conftest import compounded, make_plan

# --- pure: statistics of aggregated rows -------------------------------------------------------


def test_quantiles_from_counts_are_numpy_s_of_the_expanded_values() -> None:
    rng = random.Random(7)
    for _ in range(200):
        counts = {rng.randint(0, 30): rng.randint(1, 6) for _ in range(rng.randint(1, 8))}
        values = [value for value, n in counts.items() for _ in range(n)]
        for p in (0.25, 0.5, 0.75):
            assert quantile(counts, p) == pytest.approx(float(np.percentile(values, 100 * p)))


def test_a_zero_count_is_no_value_and_no_values_is_refused() -> None:
    assert quantile({1: 2, 5: 0, 9: 1}, 1.0) == 9
    with pytest.raises(ValueError, match="No values"):
        quantile({3: 0}, 0.5)


def test_the_median_interval_is_the_binomial_order_statistics() -> None:
    # Five values cannot give 95%: even the extremes hold the median with 1 - 2/32 = 94%.
    assert median_interval({d: 1 for d in range(5)}) is None
    # Six can: the extremes, 1 - 2/64 = 97%.
    assert median_interval({d: 1 for d in range(6)}) == (0, 5)
    # A hundred: the 40th and 61st values, the textbook ranks.
    assert median_interval({d: 1 for d in range(1, 101)}) == (40, 61)
    # They hold the median with at least 95%, and the next ranks in would not.
    assert 1 - 2 * scipy_stats.binom.cdf(39, 100, 0.5) >= 0.95
    assert 1 - 2 * scipy_stats.binom.cdf(40, 100, 0.5) < 0.95


def test_below_the_threshold_there_is_no_figure_only_counts() -> None:
    few = rate("Bruising", 1, MIN_COURSES - 1)
    assert few.estimate is None and not few.enough and few.percent is None
    assert (few.events, few.units) == (1, MIN_COURSES - 1)
    enough = rate("Bruising", 1, MIN_COURSES)
    assert enough.estimate is not None and enough.estimate.n == MIN_COURSES
    assert quantiles({1: MIN_COURSES - 1}) is None
    # [0, 0, 1, 1, 3]: five values have quartiles but no 95% interval of the median.
    q = quantiles({0: 2, 1: 2, 3: 1})
    assert q is not None
    assert (q.median, q.q1, q.q3, q.median_low, q.median_high) == (1, 0, 1, None, None)


def test_a_planted_per_session_rate_is_inside_its_interval_about_95_percent_of_the_time() -> None:
    """200 small in-memory registries: sessions with independent side effects at planted
    rates, some with the same side effect twice (counted once); the Wilson interval of the
    per-session rate should contain the planted rate in about 95% of them."""
    planted = {"bruising": 0.15, "swelling": 0.08, "pain": 0.30}
    rng = random.Random(20261126)
    covered: Counter[str] = Counter()
    simulations = 200
    for _ in range(simulations):
        sessions = rng.randint(60, 240)
        events: list[tuple[int, str]] = []
        for session in range(sessions):
            for code, p in planted.items():
                if rng.random() < p:
                    events.append((session, code))
                    if rng.random() < 0.2:
                        events.append((session, code))  # a second bruise, same session
        with_effect = {code: len({s for s, c in events if c == code}) for code in planted}
        for code, p in planted.items():
            estimate = rate(code, with_effect[code], sessions).estimate
            assert estimate is not None
            covered[code] += estimate.low <= p <= estimate.high
    coverage = {code: covered[code] / simulations for code in planted}
    overall = sum(covered.values()) / (simulations * len(planted))
    print(f"Wilson coverage over {simulations} simulations: {coverage}, overall {overall:.3f}")
    assert 0.92 <= overall <= 0.98
    assert all(0.89 <= share <= 0.99 for share in coverage.values())


# --- the database: hand counts of small registries ---------------------------------------------


SPEC = RegistrySpec(
    seed=5,
    courses_per_formula=4,
    sessions_per_course=3,
    side_effect_rates={"bruising": 0.35, "swelling": 0.2, "pain": 0.1},
    injector_share=0.4,
)


@pytest.fixture
def registry(catalogue: None, clinic_a: Clinic) -> Registry:
    return build_registry(clinic_a, SPEC)


def scope_of(*clinics: Clinic, **more: object) -> Filters:
    return Filters(clinic_ids=[clinic.pk for clinic in clinics], **more)  # type: ignore[arg-type]


def events_of(chart_ids: list[int]) -> list[dict[str, Any]]:
    """The registry's current events, read one by one: the hand count's input."""
    rows = AdverseEvent.objects.filter(chart_id__in=chart_ids, retracted_at__isnull=True)
    return [
        dict(row) for row in rows.values("chart_id", "side_effect__code", "onset_on", "resolved_on")
    ]


def by_label(grouping: Grouping) -> dict[str, tuple[int, int]]:
    return {row.label: (row.events, row.units) for row in grouping.rows}


def grouping(report: SafetyReport, key: str) -> Grouping:
    return next(g for g in report.groupings if g.key == key)


def test_the_report_is_the_hand_count_of_the_registry(registry: Registry) -> None:
    events = events_of(registry.chart_ids)
    with_event = {e["chart_id"] for e in events}
    sessions = registry.sessions
    plan_of = {s.chart_id: s.plan_id for s in sessions}

    with CaptureQueriesContext(connection) as queries:
        report = safety_report(scope_of(registry.clinic))
    # A fixed number of grouped queries, whatever the number of sessions.
    assert len(queries) < 25

    assert report.sessions == len(sessions)
    assert report.courses == len(registry.plans)
    assert (report.any_per_session.events, report.any_per_session.units) == (
        len(with_event),
        len(sessions),
    )
    assert report.any_per_course.events == len({plan_of[c] for c in with_event})

    per_code: dict[str, set[int]] = defaultdict(set)
    for e in events:
        per_code[e["side_effect__code"]].add(e["chart_id"])
    rows = {row.code: row for row in report.by_side_effect}
    assert set(per_code) <= set(rows) and len(rows) >= 12  # every catalogue side effect
    for code, charts_with in per_code.items():
        assert rows[code].per_session == rate(rows[code].label, len(charts_with), len(sessions))
        assert rows[code].per_course.events == len({plan_of[c] for c in charts_with})
        assert rows[code].per_course.units == len(registry.plans)
    assert rows["nausea"].per_session.events == 0
    assert rows["nausea"].per_session.enough  # zero of enough sessions is a figure too

    def expected(key_of) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
        groups: dict[str, set[int]] = defaultdict(set)
        for s in sessions:
            key = key_of(s)
            if key is not None:
                groups[key].add(s.chart_id)
        return {k: (len(v & with_event), len(v)) for k, v in groups.items()}

    lots = registry.lots
    assert by_label(grouping(report, "formula")) == expected(lambda s: s.formula)
    assert by_label(grouping(report, "lot")) == expected(
        lambda s: f"{lots[s.lot_index].lot_number} of {lots[s.lot_index].product.name}"
    )
    assert by_label(grouping(report, "product")) == expected(lambda s: f"{s.formula} base")
    device_label = dict(Device.choices)
    assert by_label(grouping(report, "device")) == expected(lambda s: device_label[s.device])
    assert by_label(grouping(report, "injector")) == expected(lambda s: s.injector_id or None)
    names = {p.pk: str(p) for p in registry.practitioners}
    assert by_label(grouping(report, "practitioner")) == expected(
        lambda s: names[s.practitioner_id]
    )
    assert {r.label: (r.events, r.units) for r in report.month_rates} == expected(
        lambda s: f"{s.day:%Y-%m}"
    )

    # Days from onset to resolution, and the seed's claim from the same dates.
    spans: dict[str, list[int]] = defaultdict(list)
    for e in events:
        spans[e["side_effect__code"]].append((e["resolved_on"] - e["onset_on"]).days)
    resolution = {r.code: r for r in report.resolution}
    assert set(resolution) == set(spans)
    for code, days in spans.items():
        assert resolution[code].resolved == len(days)
        assert resolution[code].unresolved == resolution[code].resolved_undated == 0
        q = resolution[code].quantiles
        if len(days) < MIN_COURSES:
            assert q is None
        else:
            assert q is not None
            assert q.median == pytest.approx(float(np.median(days)))
            assert (q.q1, q.q3) == pytest.approx(tuple(np.percentile(days, [25, 75])))
    claim = {w.code: w for w in report.within_a_day}
    for code in ("bruising", "swelling"):
        within = sum(d <= 1 for d in spans[code])
        assert (claim[code].share.events, claim[code].share.units) == (within, len(spans[code]))
        assert claim[code].later == len(spans[code]) - within
    both = claim["bruising+swelling"]
    assert both.label == "Bruising or swelling"
    assert both.share.units == len(spans["bruising"]) + len(spans["swelling"])


def test_the_filters_narrow_every_count(registry: Registry) -> None:
    practitioner = registry.practitioners[0]
    report = safety_report(scope_of(registry.clinic, practitioner=practitioner))
    own = [s for s in registry.sessions if s.practitioner_id == practitioner.pk]
    assert report.sessions == len(own)
    assert [r.label for r in grouping(report, "practitioner").rows] == [str(practitioner)]

    other = Indication.objects.exclude(pk=registry.plans[0].indication_id).first()
    assert safety_report(scope_of(registry.clinic, indication=other)).sessions == 0
    indication = registry.plans[0].indication
    assert safety_report(scope_of(registry.clinic, indication=indication)).sessions == len(
        registry.sessions
    )

    # One day of sessions: too few for a figure, but the counts are shown.
    day = registry.sessions[0].day
    that_day = [s for s in registry.sessions if s.day == day]
    report = safety_report(scope_of(registry.clinic, start=day, end=day))
    assert report.sessions == len(that_day) < MIN_COURSES
    assert report.any_per_session.estimate is None
    assert all(not row.per_session.enough for row in report.by_side_effect)
    assert all(not r.enough for g in report.groupings for r in g.rows)

    fortnight = [s for s in registry.sessions if day <= s.day <= day + timedelta(days=13)]
    report = safety_report(scope_of(registry.clinic, start=day, end=day + timedelta(days=13)))
    assert report.sessions == len(fortnight)


def test_another_clinic_is_never_counted(registry: Registry, clinic_b: Clinic) -> None:
    alone = safety_report(scope_of(registry.clinic))
    theirs = build_registry(clinic_b, replace(SPEC, seed=6))
    assert safety_report(scope_of(registry.clinic)) == alone
    report = safety_report(scope_of(clinic_b))
    assert report.sessions == len(theirs.sessions)
    lots_b = {lot.lot_number for lot in theirs.lots}
    assert {r.label.split(" of ")[0] for r in grouping(report, "lot").rows} == lots_b
    # A researcher of the registry sees both, each formula named with its clinic.
    both = safety_report(scope_of(registry.clinic, clinic_b))
    assert both.sessions == len(registry.sessions) + len(theirs.sessions)
    assert {r.label for r in grouping(both, "formula").rows} == {
        f"Formula {x} ({clinic})" for x in "AB" for clinic in (registry.clinic.name, clinic_b.name)
    }


def test_practitioners_lots_and_guns_are_coded_for_a_researcher(registry: Registry) -> None:
    report = safety_report(scope_of(registry.clinic, pseudonymous=True))
    labels = {r.label for r in grouping(report, "practitioner").rows}
    assert labels == {pseudonym("Practitioner", p.pk) for p in registry.practitioners}
    text = repr(report)
    assert not any(p.get_full_name() in text or p.username in text for p in registry.practitioners)
    # A lot number or a gun's serial leads back to one clinic's batch or device.
    lot_labels = {r.label for r in grouping(report, "lot").rows}
    assert lot_labels == {
        f"{pseudonym('Lot', lot.pk)} of {lot.product.name}" for lot in registry.lots
    }
    assert not any(lot.lot_number in text for lot in registry.lots)
    guns = {r.label for r in grouping(report, "injector").rows}
    assert guns and all(label.startswith("Injector ") for label in guns)
    assert "GUN-" not in text


def test_a_follow_up_answered_the_next_day_measures_the_claim(
    registry: Registry, asha: User
) -> None:
    """Still present at a follow-up answered 24 to 48 hours after the session; earlier or
    later answers are counted apart; a present answer retracted later is not present."""
    charts_by_id = Chart.objects.in_bulk(registry.chart_ids)
    plan = [
        (30, {"bruising": 1}),
        (26, {"bruising": 2, "swelling": 1}),
        (40, {}),
        (47, {"swelling": 1}),  # retracted below
        (30, {}),
        (10, {"bruising": 1}),  # too early to say anything about 24 hours
        (80, {"swelling": 1}),  # late
    ]
    for (hours, present), chart_id in zip(plan, registry.chart_ids, strict=False):
        chart = charts_by_id[chart_id]
        assert chart.ended_at is not None
        followup.record_follow_up(
            chart,
            no_answers(**present),
            asha,
            FollowUpChannel.PHONE,
            answered_at=chart.ended_at + timedelta(hours=hours),
        )
    event = AdverseEvent.objects.get(
        chart_id=registry.chart_ids[3], follow_up__isnull=False, side_effect__code="swelling"
    )
    followup.retract_event(event, "Recorded against the wrong session.", asha)

    report = safety_report(scope_of(registry.clinic))
    timing = report.follow_up_timing
    assert (timing.answered, timing.in_window, timing.earlier, timing.later) == (7, 5, 1, 1)
    checks = {c.code: c.still_present for c in report.next_day_check}
    assert (checks["bruising"].events, checks["bruising"].units) == (2, 5)
    assert (checks["swelling"].events, checks["swelling"].units) == (1, 5)
    assert checks["bruising"].enough


# --- the database: one session with two lots, and retracted events ---------------------------


@pytest.fixture
def practitioner(catalogue: None, pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def plan(practitioner: User, asha: User) -> CoursePlan:
    patient: Patient = make_patient(asha)
    version = compounded(practitioner, "Glow 1", ("Hyaluronic acid", "0.5"))
    return make_plan(patient, practitioner, "wrinkles-and-lines", ["forehead", "cheeks"], version)


def two_lot_chart(plan: CoursePlan, staff: User, first: Lot, second: Lot) -> Chart:
    """Syringe 1 holds both lots; syringe 2, an injector gun, holds the second again."""
    appointment = ready_session(plan, staff)
    chart = charts.start_chart(appointment, plan.practitioner)
    spec = simple_draft(chart, first)
    spec.syringes[0].lots = [
        charts.LotSpec(lot_id=first.pk, volume_ml=Decimal("1.00")),
        charts.LotSpec(lot_id=second.pk, volume_ml=Decimal("1.00")),
    ]
    spec.syringes.append(
        charts.SyringeSpec(
            number=2,
            volume_ml=Decimal("1.00"),
            device=Device.INJECTOR,
            injector_id="GUN-9",
            lots=[charts.LotSpec(lot_id=second.pk, volume_ml=Decimal("1.00"))],
        )
    )
    spec.areas.append(
        charts.AreaSpec(
            area="cheeks",
            syringe=2,
            technique="injector",
            depth_mm=Decimal("1.5"),
            volume_per_point_ml=Decimal("0.050"),
            point_count=20,
            side="both",
        )
    )
    charts.save_draft(chart, spec, plan.practitioner)
    return charts.sign_as(chart, plan.practitioner)


def test_a_session_counts_once_however_many_lots_syringes_and_events(
    plan: CoursePlan, asha: User
) -> None:
    clinic = plan.clinic
    first = stock_lot(clinic, plan.practitioner)
    second = stock_lot(clinic, plan.practitioner, name="Caffeine 2 %", number="CF-002")
    chart = two_lot_chart(plan, asha, first, second)
    day = followup.session_day(chart)
    for code in ("bruising", "bruising", "swelling", "pain"):
        followup.report_event(
            chart,
            followup.EventSpec(onset_on=day, grade=1, side_effect=code),
            asha,
            Reporter.STAFF,
        )
    followup.report_event(
        chart,
        followup.EventSpec(onset_on=day, grade=1, other_description="A small blister"),
        asha,
        Reporter.STAFF,
    )
    for event in AdverseEvent.objects.filter(side_effect__code__in=["swelling", "pain"]):
        followup.retract_event(event, "Recorded against the wrong patient.", asha)

    report = safety_report(scope_of(clinic))
    assert (report.sessions, report.courses) == (1, 1)
    assert (report.any_per_session.events, report.any_per_course.events) == (1, 1)
    rows = {row.code: row.per_session.events for row in report.by_side_effect}
    assert rows["bruising"] == 1  # two bruises, one session
    assert rows["swelling"] == rows["pain"] == 0  # retracted
    assert rows[OTHER_KEY] == 1
    assert by_label(grouping(report, "lot")) == {
        "CH-001 of Carnitine 1 g": (1, 1),
        "CF-002 of Caffeine 2 %": (1, 1),  # in two syringes, counted once
    }
    assert by_label(grouping(report, "product")) == {
        "Carnitine 1 g": (1, 1),
        "Caffeine 2 %": (1, 1),
    }
    assert by_label(grouping(report, "device")) == {
        "Syringe and needle": (1, 1),
        "Injector gun": (1, 1),
    }
    assert by_label(grouping(report, "injector")) == {"GUN-9": (1, 1)}
    resolution = {r.code: r for r in report.resolution}
    assert (resolution["bruising"].resolved, resolution["bruising"].unresolved) == (0, 2)
    assert "swelling" not in resolution


def test_a_session_is_dated_in_its_clinic_s_calendar(
    plan: CoursePlan, asha: User, clinic_a: Clinic
) -> None:
    """A session at 00:25 in Paris is on the Paris day, the evening before in UTC."""
    lot = stock_lot(clinic_a, plan.practitioner)
    utc_day = timezone.now().astimezone(UTC).date() - timedelta(days=3)
    ended = datetime.combine(utc_day, time(23, 40), tzinfo=UTC)
    chart = signed_chart(plan, asha, lot, ended_at=ended)
    paris_day = followup.session_day(chart)
    assert paris_day == utc_day + timedelta(days=1)

    assert safety_report(scope_of(clinic_a, start=paris_day, end=paris_day)).sessions == 1
    assert safety_report(scope_of(clinic_a, start=utc_day, end=utc_day)).sessions == 0
    assert safety_report(scope_of(clinic_a, end=utc_day)).sessions == 0
    assert safety_report(scope_of(clinic_a, start=paris_day)).sessions == 1
    (month,) = safety_report(scope_of(clinic_a)).by_month
    assert month.month == paris_day.replace(day=1)
