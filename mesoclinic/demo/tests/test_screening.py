"""The demo's screening: hair courses have their prescription, the front desk sees an NSAID
block on the next session and a reviewed override of low-dose aspirin."""

from __future__ import annotations

import pytest

from mesoclinic.clinics.models import Clinic
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, build_demo
from mesoclinic.demo.tests.test_generator import TODAY
from mesoclinic.formulas.services import composition
from mesoclinic.screening import services
from mesoclinic.screening.models import Override, Screening

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_the_demo_shows_a_block_an_override_and_prescriptions() -> None:
    summary = build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)

    assert summary.prescriptions >= 1
    for clinic in Clinic.objects.all():
        latest = {
            s.appointment_id: s
            for s in Screening.objects.filter(clinic=clinic).order_by("run_at", "pk")
        }
        blocked = [
            view.finding.rule.code
            for screening in latest.values()
            for view in services.open_blocks(screening)
        ]
        assert "nsaid-in-stop-window" in blocked, clinic
    assert Override.objects.filter(rule__code="anticoagulant-or-antiplatelet").exists()
    for screening in Screening.objects.filter(plan__isnull=False).select_related("plan"):
        plan = screening.plan
        assert plan is not None
        needs = plan.formula_version is not None and any(
            line.ingredient.needs_prescriber for line in composition(plan.formula_version)
        )
        if needs:
            assert plan.prescriptions.exists()


def test_the_demo_has_signed_consents_one_waiting_and_one_withdrawn() -> None:
    from django.utils import timezone

    from mesoclinic.consent.models import ConsentWithdrawal
    from mesoclinic.consent.services import valid_consent
    from mesoclinic.courses.models import CoursePlan, CourseStatus

    summary = build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)

    assert summary.consents >= 4
    now = timezone.now()
    for clinic in Clinic.objects.all():
        booked = CoursePlan.objects.filter(
            clinic=clinic, status=CourseStatus.PLANNED, appointments__isnull=False
        ).distinct()
        assert any(valid_consent(plan, now) is None for plan in booked), clinic
        active = CoursePlan.objects.filter(clinic=clinic, status=CourseStatus.ACTIVE)
        assert active and all(valid_consent(plan, now) is not None for plan in active), clinic
    withdrawn = ConsentWithdrawal.objects.select_related("document__plan")
    assert withdrawn.exists()
    assert all(w.document.plan.status == CourseStatus.STOPPED for w in withdrawn)
