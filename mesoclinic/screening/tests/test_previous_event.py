"""The rule "previous serious side effect to the same formula -> warn": it reads the adverse
events recorded after the patient's earlier signed sessions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.courses.models import CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.followup.models import AdverseEvent, Reporter
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.screening import services
from mesoclinic.screening.models import Stage
from mesoclinic.screening.tests.conftest import compounded, make_plan, shared

RULE = "previous-serious-reaction"


@pytest.fixture
def bookable_pat(pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def face_plan(asha: User, bookable_pat: User, catalogue: None) -> CoursePlan:
    version = compounded(bookable_pat, "Glow 1", ("Hyaluronic acid", "0.5"), ("Biotin", "0.5"))
    return make_plan(
        make_patient(asha), bookable_pat, "wrinkles-and-lines", ["forehead", "cheeks"], version
    )


@pytest.fixture
def first_chart(face_plan: CoursePlan, asha: User, bookable_pat: User) -> Chart:
    assert bookable_pat.clinic is not None
    lot = stock_lot(bookable_pat.clinic, bookable_pat)
    chart = charts.start_chart(ready_session(face_plan, asha), bookable_pat)
    charts.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    return charts.sign(chart, bookable_pat, PASSWORD)


def event(chart: Chart, *, grade: int, serious: bool = False, **fields: object) -> AdverseEvent:
    return AdverseEvent.objects.create(
        clinic=chart.clinic,
        patient=chart.patient,
        chart=chart,
        side_effect=SideEffect.objects.get(code="infection"),
        onset_on=timezone.localdate(chart.appointment.starts_at, chart.clinic.tz),
        grade=grade,
        serious=serious,
        reporter=Reporter.STAFF,
        reported_by=chart.practitioner,
        **fields,
    )


def evidence_for(plan: CoursePlan, asha: User, session_number: int = 2) -> list[str]:
    # Each session number is its own slot of the practitioner's day (ready_session).
    screening = services.run_screening(
        ready_session(plan, asha, session_number=session_number), Stage.ON_REQUEST, asha
    )
    return [f.evidence for f in screening.findings.filter(rule__code=RULE)]


@pytest.mark.parametrize(
    ("grade", "serious", "fires"),
    [(2, True, True), (3, False, True), (4, True, True), (2, False, False), (1, False, False)],
)
def test_a_serious_or_grade_3_event_after_the_formula_warns(
    first_chart: Chart,
    face_plan: CoursePlan,
    asha: User,
    grade: int,
    serious: bool,
    fires: bool,
) -> None:
    event(first_chart, grade=grade, serious=serious)

    found = evidence_for(face_plan, asha)

    assert bool(found) is fires
    if fires:
        assert found[0].startswith(f"Infection, grade {grade}")
        assert "Glow 1 v1" in found[0] and "causality not yet assessed" in found[0]


def test_the_warning_does_not_block_and_cannot_be_overridden(
    first_chart: Chart, face_plan: CoursePlan, asha: User
) -> None:
    event(first_chart, grade=3, serious=True)

    screening = services.run_screening(
        ready_session(face_plan, asha, session_number=2), Stage.ON_REQUEST, asha
    )

    finding = screening.findings.get(rule__code=RULE)
    assert (finding.severity, finding.overridable) == ("warn", False)
    assert screening.outcome == "warn"


def test_a_retracted_event_does_not_warn(
    first_chart: Chart, face_plan: CoursePlan, asha: User, bookable_pat: User
) -> None:
    event(
        first_chart,
        grade=3,
        retracted_at=timezone.now(),
        retracted_by=bookable_pat,
        retraction_reason="Recorded on the wrong patient.",
    )

    assert evidence_for(face_plan, asha) == []


def test_a_later_version_of_the_same_formula_warns_and_another_formula_does_not(
    first_chart: Chart, face_plan: CoursePlan, asha: User, bookable_pat: User
) -> None:
    event(first_chart, grade=3, serious=True)
    assert face_plan.formula_version is not None
    # The first version has been injected, so an edit makes version 2.
    newer = formulas.save_formula_edit(
        face_plan.formula_version.formula,
        [
            ComponentSpec(
                ingredient=shared("Biotin"),
                volume_ml=Decimal(1),
                concentration=Decimal("0.5"),
                unit="%",
            )
        ],
        bookable_pat,
    )
    same_formula = make_plan(
        face_plan.patient, bookable_pat, "wrinkles-and-lines", ["forehead"], newer
    )
    other = compounded(bookable_pat, "Other mix", ("Biotin", "0.5"))
    other_plan = make_plan(face_plan.patient, bookable_pat, "wrinkles-and-lines", ["cheeks"], other)

    assert newer.number == 2
    assert evidence_for(same_formula, asha)
    assert evidence_for(other_plan, asha, session_number=3) == []
