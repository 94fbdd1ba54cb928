"""A course's result: the change from baseline on its primary scale, what is missing said so
and never filled in, the global ratings, and the side effects on the same timeline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts import services as charts
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import User
from mesoclinic.courses import plans
from mesoclinic.courses.models import CoursePlan
from mesoclinic.followup.models import AdverseEvent, Reporter
from mesoclinic.outcomes import results, services
from mesoclinic.outcomes.models import Rater
from mesoclinic.outcomes.testing import held_session, measure


def local(plan: CoursePlan, day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=plan.clinic.tz).replace(hour=hour)


def test_nothing_measured_is_shown_as_missing(thigh_plan: CoursePlan) -> None:
    result = results.course_result(thigh_plan)
    assert result.scale.code == "hexsel-css"
    assert not result.has_values
    assert result.missing == [
        "No baseline measurement",
        "No end-of-course measurement yet: the course is not over",
    ]
    assert [r.measurement for r in result.ratings] == [None, None, None]
    assert "small and mostly uncontrolled" in result.evidence_note
    assert result.direction == "Lower values are better on this scale."


def test_change_from_baseline_to_end(thigh_plan: CoursePlan, bookable_pat: User) -> None:
    first = thigh_plan.clinic.today() - timedelta(days=40)
    measure(thigh_plan, 11, local(thigh_plan, first - timedelta(3)), bookable_pat)
    measure(thigh_plan, 10, local(thigh_plan, first, 8), bookable_pat)  # the baseline used
    held_session(thigh_plan, bookable_pat, local(thigh_plan, first, 10))
    measure(thigh_plan, 9, local(thigh_plan, first + timedelta(7)), bookable_pat)
    plans.complete_plan(thigh_plan, bookable_pat)
    measure(thigh_plan, 7, local(thigh_plan, first + timedelta(30)), bookable_pat)
    measure(thigh_plan, 2, local(thigh_plan, first + timedelta(31)), bookable_pat, scale="gais")
    measure(
        thigh_plan,
        4,
        local(thigh_plan, first + timedelta(31)),
        bookable_pat,
        scale="gais",
        rater=Rater.PATIENT,
    )

    result = results.course_result(thigh_plan)

    (series,) = result.series
    assert [p.value for p in series.points] == [11, 10, 9, 7]
    assert [p.change for p in series.points] == [1, 0, -1, -3]
    assert series.baseline is not None and series.baseline.value == 10
    assert series.end is not None and series.end.value == 7
    assert series.change_at_end == Decimal(-3)
    assert result.missing == []
    practitioner, patient, satisfaction = result.ratings
    assert (practitioner.measurement.value, practitioner.level) == (2, "Much improved")  # type: ignore[union-attr]
    assert (patient.measurement.value, patient.level) == (4, "No change")  # type: ignore[union-attr]
    assert satisfaction.measurement is None
    html = results.plot_html(result)
    assert 'id="course-result-plot"' in html and "Plotly.newPlot" in html
    assert "<script src" not in html  # the page loads plotly.min.js once


def test_a_missing_end_is_not_filled_in(thigh_plan: CoursePlan, bookable_pat: User) -> None:
    first = thigh_plan.clinic.today() - timedelta(days=20)
    held_session(thigh_plan, bookable_pat, local(thigh_plan, first, 10))
    measure(thigh_plan, 8, local(thigh_plan, first + timedelta(2)), bookable_pat)
    plans.complete_plan(thigh_plan, bookable_pat)

    result = results.course_result(thigh_plan)

    assert result.missing == ["No baseline measurement", "No end-of-course measurement"]
    (series,) = result.series
    assert [p.change for p in series.points] == [None]
    assert series.change_at_end is None


def test_retracted_values_leave_the_result(thigh_plan: CoursePlan, bookable_pat: User) -> None:
    wrong = measure(thigh_plan, 12, timezone.now(), bookable_pat)
    services.retract_measurement(wrong, "Wrong patient.", bookable_pat)
    assert results.course_result(thigh_plan).series == []


def test_each_site_is_its_own_series(fat_plan: CoursePlan, bookable_pat: User) -> None:
    now = timezone.now()
    measure(fat_plan, "92.0", now - timedelta(hours=2), bookable_pat, site="navel")
    measure(fat_plan, "61.5", now - timedelta(hours=1), bookable_pat, site="left thigh, 10 cm")

    result = results.course_result(fat_plan)

    assert [s.site for s in result.series] == ["navel", "left thigh, 10 cm"]
    assert result.axis_title == "Circumference at a landmark (cm)"
    assert "No end-of-course measurement at navel yet: the course is not over" in result.missing
    assert "Park et al." in result.evidence_note


def test_side_effects_of_the_sessions_are_on_the_timeline(
    thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    chart = charts.start_chart(ready_session(thigh_plan, bookable_pat), bookable_pat)
    today = thigh_plan.clinic.today()

    def event(code: str, grade: int, retracted: bool = False) -> AdverseEvent:
        return AdverseEvent.objects.create(
            clinic=thigh_plan.clinic,
            patient=thigh_plan.patient,
            chart=chart,
            side_effect=SideEffect.objects.get(code=code),
            onset_on=today,
            grade=grade,
            reporter=Reporter.STAFF,
            reported_by=bookable_pat,
            retracted_at=timezone.now() if retracted else None,
        )

    event("bruising", 1)
    event("swelling", 2)
    event("redness", 1, retracted=True)

    result = results.course_result(thigh_plan)

    assert [(m.label, m.grade, m.session_number) for m in result.side_effects] == [
        ("Bruising", 1, 1),
        ("Swelling", 2, 1),
    ]
    figure = results.figure(result)
    marks = [trace for trace in figure.data if trace.name == "Side effect (grade)"]
    assert list(marks[0].y) == [1, 2]


def test_typed_text_reaches_the_plot_escaped(fat_plan: CoursePlan, bookable_pat: User) -> None:
    # plotly.js would render a link or a style from a trace's name or hover text.
    site = '<a href="https://example.org">navel</a>'
    measure(fat_plan, "92.0", timezone.now() - timedelta(hours=1), bookable_pat, site=site)

    figure = results.figure(results.course_result(fat_plan))

    names = [trace.name for trace in figure.data]
    assert "&lt;a href=&quot;https://example.org&quot;&gt;navel&lt;/a&gt;" in names
    assert site not in names
