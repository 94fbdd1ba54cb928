"""The measurements page and the Result card on the course page: recorded and retracted
through the forms, audited, and closed to another clinic and to researchers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes.models import Measurement, TimePoint
from mesoclinic.outcomes.testing import measure

ClientFor = Callable[[User], Client]


def local_input(plan: CoursePlan, hours_ago: int = 1) -> str:
    moment = timezone.localtime(timezone.now() - timedelta(hours=hours_ago), plan.clinic.tz)
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_the_page_records_a_value_of_the_chosen_scale(
    client_for: ClientFor, thigh_plan: CoursePlan, asha: User
) -> None:
    client = client_for(asha)
    url = reverse("outcomes:measurements", args=[thigh_plan.pk])
    page = client.get(url, {"scale": "nurnberger-muller"})
    assert page.status_code == 200
    assert b"Grade 2: Dimples visible when standing" in page.content  # the levels, as a select

    response = client.post(
        reverse("outcomes:record", args=[thigh_plan.pk]),
        {
            "scale": "nurnberger-muller",
            "value": "2",
            "measured_at": local_input(thigh_plan),
            "rater": "assessor",
            "rated_by": asha.pk,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    measured = Measurement.objects.get()
    assert (measured.value, measured.time_point, measured.recorded_by) == (
        2,
        TimePoint.BASELINE,
        asha,
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="courses.CoursePlan", detail__what="outcomes"
    ).exists()


def test_the_form_offers_the_courses_earlier_sites(
    client_for: ClientFor, fat_plan: CoursePlan, bookable_pat: User
) -> None:
    url = reverse("outcomes:measurements", args=[fat_plan.pk])
    client = client_for(bookable_pat)
    assert b"<datalist" not in client.get(url).content

    measure(fat_plan, "61", timezone.now() - timedelta(days=1), bookable_pat, site="navel + 5 cm")
    page = client.get(url).content.decode()

    assert 'list="id_site_choices"' in page
    assert '<datalist id="id_site_choices"><option value="navel + 5 cm"></datalist>' in page
    assert "Earlier on this course: navel + 5 cm." in page


def test_a_refused_value_keeps_the_form_with_the_range(
    client_for: ClientFor, thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    response = client_for(bookable_pat).post(
        reverse("outcomes:record", args=[thigh_plan.pk]),
        {
            "scale": "hexsel-css",
            "value": "16",
            "measured_at": local_input(thigh_plan),
            "rater": "practitioner",
            "rated_by": bookable_pat.pk,
        },
    )
    assert response.status_code == 422
    assert "takes values from 0 to 15 in steps of 1; 16 is outside that range" in (
        response.content.decode()
    )
    assert not Measurement.objects.exists()


def test_a_skipped_local_time_is_refused(
    client_for: ClientFor, thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    response = client_for(bookable_pat).post(
        reverse("outcomes:record", args=[thigh_plan.pk]),
        {
            "scale": "hexsel-css",
            "value": "6",
            "measured_at": "2026-03-29T02:30",  # clocks go from 02:00 to 03:00 in Paris
            "rater": "practitioner",
            "rated_by": bookable_pat.pk,
        },
    )
    assert response.status_code == 422
    assert "2026-03-29 02:30" in response.content.decode()
    assert "Europe/Paris" in response.content.decode()
    assert not Measurement.objects.exists()


def test_a_measurement_is_retracted_with_a_reason(
    client_for: ClientFor, thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    measured = measure(thigh_plan, 9, timezone.now(), bookable_pat)
    client = client_for(bookable_pat)
    url = reverse("outcomes:retract", args=[measured.pk])

    client.post(url, {"reason": ""})
    assert Measurement.objects.get().retracted_at is None
    client.post(url, {"reason": "Measured the wrong thigh."})
    assert Measurement.objects.get().retraction_reason == "Measured the wrong thigh."
    page = client.get(reverse("outcomes:measurements", args=[thigh_plan.pk]))
    assert b"Retracted" in page.content and b"Measured the wrong thigh." in page.content


def test_the_course_page_shows_the_result_with_its_plot(
    client_for: ClientFor, thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    client = client_for(bookable_pat)
    empty = client.get(reverse("courses:plan", args=[thigh_plan.pk])).content.decode()
    assert "No baseline measurement" in empty
    assert "plotly.min" not in empty  # no plot, no plotly

    measure(thigh_plan, 9, timezone.now(), bookable_pat)
    page = client.get(reverse("courses:plan", args=[thigh_plan.pk])).content.decode()

    assert 'id="result-heading"' in page
    assert "plotly.min" in page and 'id="course-result-plot"' in page
    assert "Lower values are better on this scale." in page
    assert "No end-of-course measurement yet" in page
    assert AuditEvent.objects.filter(detail__what="result", object_id=str(thigh_plan.pk)).exists()


def test_another_clinic_and_researchers_are_refused(
    client_for: ClientFor, thigh_plan: CoursePlan, bookable_pat: User, bob: User, rhea: User
) -> None:
    measured = measure(thigh_plan, 9, timezone.now(), bookable_pat)
    page = reverse("outcomes:measurements", args=[thigh_plan.pk])
    retract = reverse("outcomes:retract", args=[measured.pk])
    record = reverse("outcomes:record", args=[thigh_plan.pk])

    bob_client = client_for(bob)
    assert bob_client.get(page).status_code == 404
    assert bob_client.post(retract, {"reason": "x"}).status_code == 404
    assert bob_client.post(record, {"scale": "hexsel-css"}).status_code == 404
    rhea_client = client_for(rhea)
    assert rhea_client.get(page).status_code == 403
    assert rhea_client.post(retract, {"reason": "x"}).status_code == 403
    assert Measurement.objects.get().retracted_at is None
    course = client_for(rhea).get(reverse("courses:plan", args=[thigh_plan.pk]))
    assert course.status_code in (403, 404)
