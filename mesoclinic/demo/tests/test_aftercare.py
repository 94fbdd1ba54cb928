"""The demo's follow-up and outcomes: 24-hour checks at realistic rates with their flags, one
cluster of infections tied to one lot, and outcome series that are honestly mixed."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from mesoclinic.charts.models import Chart, SyringeLot
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, DemoSummary, build_demo
from mesoclinic.demo.tests.test_generator import TODAY
from mesoclinic.evidence.models import ExposureKind, OutbreakAlert
from mesoclinic.followup.models import AdverseEvent, Flag, FlagKind, FollowUp
from mesoclinic.outcomes.models import Measurement, TimePoint
from mesoclinic.outcomes.results import course_result
from mesoclinic.outcomes.services import validate_value

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture
def summary(catalogue: None) -> DemoSummary:
    return build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)


def test_follow_ups_side_effects_and_one_infection_cluster(summary: DemoSummary) -> None:
    signed = Chart.objects.filter(signed_at__isnull=False).count()
    # Most sessions were followed up, the history's too; the few unreached ones older than 72
    # hours (and younger than 30 days: not the history's) are flagged.
    follow_ups = summary.follow_ups + summary.history.follow_ups
    assert follow_ups == FollowUp.objects.count()
    assert 0.75 * signed <= follow_ups < signed
    unanswered = Flag.objects.filter(kind=FlagKind.UNANSWERED)
    assert unanswered.exists()
    assert not unanswered.filter(chart__follow_up__isnull=False).exists()

    # Realistic rates: most checks find nothing, and what remains is mild.
    events = AdverseEvent.objects.select_related("side_effect", "chart")
    at_check = [e for e in events if e.follow_up_id is not None]
    assert len({e.follow_up_id for e in at_check}) < 0.5 * follow_ups
    assert all(e.grade <= 2 for e in at_check)
    persisting = AdverseEvent.objects.filter(flags__kind=FlagKind.PERSISTING)
    assert set(persisting.values_list("side_effect__code", flat=True)) <= {"bruising", "swelling"}

    # The cluster: three infections, weeks after sessions that all drew on one lot. The
    # history's isolated ones are more than a year old.
    everyone = events.filter(side_effect__code="infection")
    assert everyone.count() == summary.infections + summary.history.infections
    infections = list(everyone.filter(onset_on__gt=TODAY - timedelta(days=365)))
    assert len(infections) == summary.infections == 3
    lots = [
        set(SyringeLot.objects.filter(chart=e.chart).values_list("lot_id", flat=True))
        for e in infections
    ]
    shared = set.intersection(*lots)
    assert shared
    assert len({e.patient_id for e in infections}) == 3
    for event in infections:
        session_day = timezone.localdate(event.chart.ended_at, event.clinic.tz)
        assert timedelta(days=7) <= event.onset_on - session_day <= timedelta(weeks=12)
        assert event.grade == 3 and event.causality == "probable"
        assert Flag.objects.filter(adverse_event=event, closed_at__isnull=True).exists()

    # The scan at the end of the build found the cluster: an open alert on the lot, its
    # infected patients first among every patient exposed to contact. Lots drawn at the same
    # sessions (the formula's other product) share its infections and may be alerted too.
    lot_alerts = OutbreakAlert.objects.filter(kind=ExposureKind.LOT, status="open")
    assert set(lot_alerts.values_list("lot_id", flat=True)) <= shared
    alert = lot_alerts.get(label=summary.cluster_lot)
    assert alert.p_value < alert.threshold
    contacts = list(alert.contacts.all())
    assert len(contacts) > 3 and all(c.infected for c in contacts[:3])
    assert {c.patient_id for c in contacts if c.infected} == {e.patient_id for e in infections}
    assert summary.outbreak_alerts == OutbreakAlert.objects.filter(status="open").count()
    assert not OutbreakAlert.objects.filter(clinic__slug="demo-london").exists()

    # Flags older than ten days were closed with an action and a note; none is lost.
    closed = Flag.objects.filter(closed_at__isnull=False)
    assert closed.exists()
    assert all(f.action and len(f.action_note) >= 10 for f in closed)
    assert Flag.objects.filter(closed_at__isnull=True).count() == summary.open_flags


def test_outcome_series_are_mixed_valid_and_sometimes_missing(summary: DemoSummary) -> None:
    measurements = list(Measurement.objects.select_related("scale", "plan__indication"))
    assert len(measurements) == summary.measurements + summary.history.measurements
    assert summary.measurements > 0
    for m in measurements:
        assert validate_value(m.scale, m.value) == m.value
        assert m.time_point != TimePoint.UNSCHEDULED

    changes: Counter[str] = Counter()
    by_plan: dict[int, list[Measurement]] = defaultdict(list)
    for m in measurements:
        if m.scale_id == m.plan.indication.primary_scale_id:
            by_plan[m.plan_id].append(m)
    for plan_measurements in by_plan.values():
        plan = plan_measurements[0].plan
        result = course_result(plan)
        baseline = [m for m in plan_measurements if m.time_point == TimePoint.BASELINE]
        later = [m for m in plan_measurements if m.time_point != TimePoint.BASELINE]
        if not baseline:
            assert any(text.startswith("No baseline measurement") for text in result.missing)
        if not (baseline and later):
            continue
        difference = later[-1].value - baseline[0].value
        noise = 2 * plan.indication.primary_scale.step
        better = (
            difference < -noise
            if plan.indication.primary_scale.direction == "lower-is-better"
            else difference > noise
        )
        worse = (
            difference > noise
            if plan.indication.primary_scale.direction == "lower-is-better"
            else difference < -noise
        )
        changes["better" if better else "worse" if worse else "same"] += 1
    # Not every course improves.
    assert changes["same"] + changes["worse"] > 0, changes
