"""The synthetic registry builder: what it writes is what it says it planted, the same for a
seed, valid for the database's rules on both back ends, and quick."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from mesoclinic.charts.models import AreaTreatment, Chart, SignedChartError, Syringe, SyringeLot
from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan, CourseStatus
from mesoclinic.evidence.testing import FormulaTruth, Registry, RegistrySpec, build_registry
from mesoclinic.followup.models import AdverseEvent
from mesoclinic.formulas.models import LotUse
from mesoclinic.outcomes import timepoints
from mesoclinic.outcomes.models import Measurement, TimePoint
from mesoclinic.outcomes.services import validate_value

pytestmark = pytest.mark.usefixtures("catalogue")

OUTBREAK = RegistrySpec(
    seed=7, contaminated_lot=1, contaminated_rate=0.5, background_infection_rate=0.01
)


def test_counts(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a)
    spec = registry.spec
    courses = len(spec.formulas) * spec.courses_per_formula
    assert len(registry.plans) == len(registry.patients) == len(registry.courses) == courses
    assert len(registry.practitioners) == spec.practitioners
    assert len(registry.lots) == len(spec.formulas) * spec.lots_per_product
    sessions = sum(course.sessions for course in registry.courses)
    assert len(registry.sessions) == len(registry.chart_ids) == sessions
    assert Chart.objects.filter(clinic=clinic_a, signed_at__isnull=False).count() == sessions
    assert not Chart.objects.filter(signed_at__isnull=True).exists()
    for model in (Syringe, SyringeLot, AreaTreatment):
        assert model.objects.filter(chart__clinic=clinic_a).count() == sessions
    assert LotUse.objects.filter(patient__clinic=clinic_a).count() == sessions
    assert (
        Appointment.objects.filter(clinic=clinic_a, status=AppointmentStatus.ATTENDED).count()
        == sessions
    )
    measured = [course for course in registry.courses if course.end is not None]
    assert 0 < len(measured) < courses  # the default plants drop-outs
    dropped = CoursePlan.objects.filter(clinic=clinic_a, status=CourseStatus.STOPPED).count()
    assert dropped == courses - len(measured)
    points = dict(
        Measurement.objects.filter(clinic=clinic_a, scale=registry.scale)
        .values_list("time_point")
        .annotate(n=Count("pk"))
    )
    assert points == {TimePoint.BASELINE: courses, TimePoint.END: len(measured)}
    gais = Measurement.objects.filter(clinic=clinic_a, scale__code="gais")
    assert gais.count() == 2 * len(measured)
    by_code = dict(
        AdverseEvent.objects.filter(clinic=clinic_a)
        .values_list("side_effect__code")
        .annotate(n=Count("pk"))
    )
    assert by_code == registry.side_effect_counts
    assert set(by_code) == {"bruising", "swelling"}  # no infection without a planted rate
    assert registry.infections == []


def test_recorded_values_are_the_planted_ones(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, RegistrySpec(seed=3))
    scale = registry.scale
    stored = {
        (m.plan_id, m.time_point): m.value
        for m in Measurement.objects.filter(clinic=clinic_a, scale=scale)
    }
    for course in registry.courses:
        assert stored[course.plan_id, TimePoint.BASELINE] == course.baseline
        assert stored.get((course.plan_id, TimePoint.END)) == course.end
        validate_value(scale, course.baseline)  # on the scale: in range and on a step
        assert abs(float(course.baseline) - course.true_baseline) <= 0.5 or course.baseline in (
            scale.min_value,
            scale.max_value,
        )
    # The time points stored are the ones the outcomes app computes from the sessions.
    for m in Measurement.objects.filter(clinic=clinic_a).select_related("plan__clinic")[:40]:
        assert timepoints.time_point_of(m.plan, m.measured_at)[0] == m.time_point
    # The planted effects show in the recorded changes (a loose check; the reports' tests
    # check coverage over many seeds).
    for truth in registry.spec.formulas:
        changes = [
            float(c.recorded_change)
            for c in registry.courses
            if c.formula == truth.name and c.recorded_change is not None
        ]
        assert abs(sum(changes) / len(changes) - truth.effect) < 1.5


def test_same_seed_same_registry(clinic_a: Clinic, clinic_b: Clinic) -> None:
    first = build_registry(clinic_a, OUTBREAK)
    second = build_registry(clinic_b, OUTBREAK)

    def planted(registry: Registry) -> list[tuple[object, ...]]:
        return [
            (c.formula, c.true_change, c.baseline, c.end, c.gais_patient, c.sessions)
            for c in registry.courses
        ]

    assert planted(first) == planted(second)
    assert [(s.day, s.lot_index, s.device) for s in first.sessions] == [
        (s.day, s.lot_index, s.device) for s in second.sessions
    ]
    assert [(i.onset_on, i.lot_index) for i in first.infections] == [
        (i.onset_on, i.lot_index) for i in second.infections
    ]
    other = build_registry(
        Clinic.objects.create(name="Third", slug="c", time_zone="Europe/Paris"),
        RegistrySpec(seed=8, contaminated_lot=1, contaminated_rate=0.5),
    )
    assert planted(other) != planted(first)


def test_planted_infections_follow_exposure(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, OUTBREAK)
    planted = [i for i in registry.infections if i.planted]
    assert len(planted) >= 3
    exposed = registry.exposed_patient_ids(1)
    days = {s.chart_id: s.day for s in registry.sessions}
    for infection in planted:
        assert infection.lot_index == 1 and infection.patient_id in exposed
        assert 7 <= (infection.onset_on - days[infection.chart_id]).days <= 60
    onsets = [i.onset_on for i in registry.infections]
    assert onsets == sorted(onsets)
    assert registry.infected_patient_ids[0] == registry.infections[0].patient_id
    stored = AdverseEvent.objects.filter(clinic=clinic_a, side_effect__code="infection")
    assert stored.count() == len(registry.infections)
    lot = registry.lots[1]
    for event in stored.filter(pk__in=[i.event_id for i in planted]):
        assert SyringeLot.objects.filter(chart=event.chart_id, lot=lot).exists()
        assert event.onset_on <= clinic_a.today()
    # The lot's sessions form one run in time: lots are used in turn.
    runs = [s.lot_index for s in registry.sessions if s.formula == "Formula A"]
    assert runs == sorted(runs)


def test_devices_vials_and_scale(clinic_a: Clinic) -> None:
    spec = RegistrySpec(
        seed=5,
        indication="localised-fat",
        formulas=(FormulaTruth("Slim", -3.0), FormulaTruth("Placebo-like", 0.0)),
        baseline_mean=92.0,
        baseline_sd=8.0,
        doses_per_vial=4,
        injector_share=0.5,
        gais=False,
    )
    registry = build_registry(clinic_a, spec)
    assert registry.scale.code == "circumference"
    assert not Measurement.objects.filter(clinic=clinic_a, scale__code="gais").exists()
    assert set(Measurement.objects.filter(clinic=clinic_a).values_list("site", flat=True)) == {
        "mid-thigh, 15 cm above the patella"
    }
    injectors = {s.injector_id for s in registry.sessions if s.device == "injector"}
    assert injectors == {"GUN-1", "GUN-2"}
    assert Syringe.objects.filter(chart__clinic=clinic_a, injector_id="GUN-1").exists()
    opened = SyringeLot.objects.filter(chart__clinic=clinic_a, opens_unit=True).count()
    vials = {(s.lot_index, s.vial) for s in registry.sessions}
    assert opened == len(vials)
    assert all(lot.product.multi_dose for lot in registry.lots)
    assert sum(lot.received_quantity - lot.remaining_units for lot in registry.lots) == opened


def test_identifiers_are_distinct(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a)
    names = [p.given_name for p in registry.patients] + [p.family_name for p in registry.patients]
    names += [u.first_name for u in registry.practitioners]
    names += [u.last_name for u in registry.practitioners]
    assert len(set(names)) == len(names)
    assert len({p.email for p in registry.patients}) == len(registry.patients)
    assert len({p.phone_digits for p in registry.patients}) == len(registry.patients)
    patient = registry.patients[0]
    assert Chart.objects.filter(notes__contains=patient.family_name).exists()


def test_signed_charts_stay_signed(clinic_a: Clinic) -> None:
    registry = build_registry(clinic_a, RegistrySpec(courses_per_formula=2))
    with pytest.raises(SignedChartError):
        Chart.objects.filter(pk=registry.chart_ids[0]).update(notes="changed")


def test_fast(clinic_a: Clinic) -> None:
    spec = RegistrySpec(courses_per_formula=18, side_effect_rates={"bruising": 0.3})
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        registry = build_registry(clinic_a, spec)
        seconds = time.perf_counter() - started
    assert len(registry.sessions) >= 180
    # Bulk writes: the query count does not grow with the sessions (the dimension rows,
    # through the services, take most of them).
    assert len(queries) < 150, len(queries)
    # About half a second on an idle machine; the bound leaves room for a busy one.
    assert seconds < 4.0, seconds


def test_refuses_a_registry_past_today(clinic_a: Clinic) -> None:
    with pytest.raises(ValueError, match="start it earlier"):
        build_registry(clinic_a, RegistrySpec(start=clinic_a.today() - timedelta(days=30)))
    assert not Chart.objects.exists()
