"""The demo's synthetic history: enough finished courses for the evidence pages to show figures
for several formulas, side effects at plausible rates, two isolated infections that raise no
alert, all before the present courses. That its records hold to the demo's own rules (charts
that add up and carry their points and hash, bookings in working hours, recalls, cancelled
sessions, prescriptions) the other demo tests check, over every record."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from mesoclinic.charts.models import Chart
from mesoclinic.courses.models import (
    Appointment,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    MaintenanceStatus,
)
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, DemoSummary, build_demo
from mesoclinic.demo.history import (
    ARMS,
    COURSES_PER_FORMULA,
    EXPIRY_CLEAR_OF,
    PATIENT_NOTE,
    STOPPED_PER_FORMULA,
)
from mesoclinic.demo.tests.test_generator import TODAY
from mesoclinic.evidence import outbreaks
from mesoclinic.evidence.comparison import Model
from mesoclinic.evidence.effects import outcome_report
from mesoclinic.evidence.filters import Filters
from mesoclinic.evidence.models import OutbreakAlert
from mesoclinic.evidence.safety import safety_report
from mesoclinic.followup.models import AdverseEvent
from mesoclinic.formulas.models import Lot, LotUse
from mesoclinic.outcomes import timepoints
from mesoclinic.outcomes.models import Measurement
from mesoclinic.outcomes.services import validate_value
from mesoclinic.patients.models import Patient, Sex

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture
def summary(catalogue: None) -> DemoSummary:
    return build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)


def test_the_outcome_and_safety_pages_have_figures(summary: DemoSummary) -> None:
    history = summary.history
    assert history.courses == history.patients == len(ARMS) * COURSES_PER_FORMULA
    assert f"{history}" in str(summary) and "synthetic history" in str(summary)
    report = outcome_report(Filters(clinic_ids=[summary.clinic.pk]))
    shown: dict[str, list[str]] = defaultdict(list)
    for part in report.indications:
        for row in part.by_formula.rows:
            if row.change is not None:
                shown[part.indication.code].append(row.label)
                # Measured at baseline and end, the drop-outs counted beside them.
                assert row.counts.complete >= 8, row.label
                assert row.counts.ended_without_end >= STOPPED_PER_FORMULA + 1, row.label
                assert row.practitioner_gais is not None and row.patient_gais is not None
    expected = defaultdict(list)
    for arm in ARMS:
        expected[arm.indication].append(arm.formula)
    assert {code: sorted(names) for code, names in shown.items()} == {
        code: sorted(names) for code, names in expected.items()
    }
    # Two indications with two formulas each, compared (one with the mixed model, one by fixed
    # effects: two practitioners treat pigmentation).
    compared = {
        part.indication.code: part.comparison.model
        for part in report.indications
        if len(expected.get(part.indication.code, [])) > 1 and part.comparison.contrasts
    }
    assert compared == {"cellulite": Model.MIXED, "pigmentation": Model.FIXED}

    safety = safety_report(Filters(clinic_ids=[summary.clinic.pk]))
    assert safety.sessions == Chart.objects.filter(clinic=summary.clinic).count()
    assert safety.sessions > history.sessions
    rates = {row.code: row.per_session for row in safety.by_side_effect}
    # Plausible per-session rates: bruising common, infection rare.
    assert 0.08 < rates["bruising"].events / rates["bruising"].units < 0.25
    assert 0.02 < rates["swelling"].events / rates["swelling"].units < 0.15
    assert rates["infection"].events == summary.infections + history.infections == 5


def test_the_history_comes_before_the_present_and_is_plausible(summary: DemoSummary) -> None:
    former = Patient.objects.filter(notes=PATIENT_NOTE)
    assert former.count() == summary.history.patients
    plans = CoursePlan.objects.filter(patient__in=former).select_related(
        "clinic", "indication__primary_scale", "formula_version__formula"
    )
    assert {p.clinic_id for p in plans} == {summary.clinic.pk}
    assert Counter(p.formula_version.formula.name for p in plans) == {  # type: ignore[union-attr]
        arm.formula: COURSES_PER_FORMULA for arm in ARMS
    }
    assert Counter(p.status for p in plans) == {
        CourseStatus.COMPLETED: (COURSES_PER_FORMULA - STOPPED_PER_FORMULA) * len(ARMS),
        CourseStatus.STOPPED: STOPPED_PER_FORMULA * len(ARMS),
    }
    women_only = {arm.formula for arm in ARMS if arm.women_only}
    for plan in plans:
        first = plan.appointments.aggregate(first=Min("starts_at"))["first"]
        # Adults when it began; women for the formulas only women came for.
        assert plan.patient.age_on(first.date()) >= 18
        if plan.formula_version.formula.name in women_only:  # type: ignore[union-attr]
            assert plan.patient.sex == Sex.FEMALE
        if plan.status == CourseStatus.STOPPED:
            assert plan.appointments.filter(status=AppointmentStatus.CANCELLED).exists()
        else:
            assert plan.maintenance.get().status in (
                MaintenanceStatus.DUE,
                MaintenanceStatus.DISMISSED,
            )

    # Every history appointment a week or more before the day of the present courses' first.
    history_appointments = Appointment.objects.filter(patient__in=former)
    present = Appointment.objects.filter(clinic=summary.clinic).exclude(patient__in=former)
    last = history_appointments.order_by("-starts_at").first()
    first_present = present.order_by("starts_at").first()
    assert last is not None and first_present is not None
    tz = summary.clinic.tz
    assert timezone.localdate(last.ends_at, tz) + timedelta(days=7) <= timezone.localdate(
        first_present.starts_at, tz
    )

    # Values on their scale, at the time points the outcomes app computes for them.
    measurements = Measurement.objects.filter(patient__in=former).select_related("scale", "plan")
    assert measurements.count() == summary.history.measurements
    for m in measurements:
        assert validate_value(m.scale, m.value) == m.value
        assert timepoints.time_point_of(m.plan, m.measured_at)[0] == m.time_point

    # Its lots were used up, and none expires around today (the library's one does).
    used = LotUse.objects.filter(patient__in=former).values_list("lot", flat=True)
    lots = Lot.objects.filter(pk__in=used)
    assert lots.count() == summary.history.lots
    assert all(lot.remaining_units == 0 for lot in lots)
    low, high = (TODAY + timedelta(days=d) for d in EXPIRY_CLEAR_OF)
    assert not lots.filter(expiry_date__range=(low, high)).exists()
    assert not LotUse.objects.filter(lot__in=lots).exclude(patient__in=former).exists()


def test_the_history_infections_are_isolated_and_raise_no_alert(summary: DemoSummary) -> None:
    former = Patient.objects.filter(notes=PATIENT_NOTE)
    infections = list(
        AdverseEvent.objects.filter(patient__in=former, side_effect__code="infection").order_by(
            "onset_on"
        )
    )
    assert len(infections) == summary.history.infections == 2
    # No scan window holds both (an infection is attributed to the sessions of the 12 weeks
    # before its onset), and both are older than the year the background is measured over.
    first, second = infections
    window = outbreaks.LOOKBACK_DAYS + outbreaks.INCUBATION_MAX_DAYS - outbreaks.INCUBATION_MIN_DAYS
    assert (second.onset_on - first.onset_on).days > window
    assert all(e.onset_on < TODAY - timedelta(days=outbreaks.BACKGROUND_DAYS) for e in infections)

    # The open alerts are the demo's cluster's: no history patient is an infected contact.
    alerts = OutbreakAlert.objects.filter(clinic=summary.clinic)
    assert alerts.exists()
    assert not alerts.filter(contacts__infected=True, contacts__patient__in=former).exists()

    # Scanned on the first of every month of the history, the clinic would have had no alert.
    raised = set(alerts.values_list("pk", flat=True))
    day = summary.history.first_day
    assert day is not None
    with transaction.atomic():
        while day < TODAY - timedelta(days=180):
            outbreaks.scan(summary.clinic, as_of=day)
            day += timedelta(days=30)
        assert set(alerts.values_list("pk", flat=True)) == raised
        transaction.set_rollback(True)
