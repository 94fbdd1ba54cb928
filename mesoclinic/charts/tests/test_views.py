"""The chart pages: started from check-in, filled in by taps and autosave, signed with the
password, amended; another clinic's chart is out of reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mesoclinic.charts import editor, services
from mesoclinic.charts.models import Chart, ChartAmendment
from mesoclinic.charts.testing import form_data, simple_draft
from mesoclinic.clinics.models import AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD, sign_in
from mesoclinic.consent import services as consent
from mesoclinic.courses.models import Appointment
from mesoclinic.formulas.models import Lot

HTMX = {"HX-Request": "true"}


def saved(chart: Chart) -> services.DraftSpec:
    """The draft as stored now (the test's ``chart`` instance is older)."""
    return services.spec_of(Chart.objects.get(pk=chart.pk))


def post_form(client: Client, chart: Chart, spec: services.DraftSpec, **extra: str) -> object:
    return client.post(
        reverse("charts:save", args=[chart.pk]),
        form_data(spec, chart.clinic.tz, **extra),
        headers=HTMX,
    )


def test_check_in_page_offers_to_start_and_the_chart_opens(
    client: Client, session: Appointment, bookable_pat: User
) -> None:
    sign_in(client, bookable_pat)
    page = client.get(reverse("screening:appointment", args=[session.pk]))
    assert b"Start the chart" in page.content

    response = client.post(reverse("charts:start", args=[session.pk]))

    chart = Chart.objects.get(appointment=session)
    assert response.url == reverse("charts:chart", args=[chart.pk])  # type: ignore[attr-defined]
    page = client.get(response.url)  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert b'id="chart-form"' in page.content
    assert b'class="bodymap-svg"' in page.content
    assert b"Sign the chart" in page.content
    assert AuditEvent.objects.filter(
        object_type="charts.Chart", object_id=str(chart.pk), action="view"
    ).exists()


def test_a_refused_start_says_why_on_the_check_in_page(
    client: Client, session: Appointment, bookable_pat: User, asha: User
) -> None:
    document = consent.valid_consent(session.plan, timezone.now())  # type: ignore[arg-type]
    assert document is not None
    consent.withdraw(document, "Wants to think again.", asha)
    sign_in(client, bookable_pat)

    response = client.post(reverse("charts:start", args=[session.pk]), follow=True)

    assert b"No valid consent for this course" in response.content
    assert not Chart.objects.exists()


def test_a_tap_on_the_map_adds_a_point_to_the_area_it_lands_on(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    spec = simple_draft(chart, lot)
    services.save_draft(chart, spec, bookable_pat)
    sign_in(client, bookable_pat)

    # A tap on the patient's left cheek (the viewer's right on the face view).
    response = post_form(
        client, chart, spec, action="add_point", point_view="face", point_x="140", point_y="125"
    )

    assert response.status_code == 200  # type: ignore[attr-defined]
    stored = saved(chart)
    assert [(a.area, a.side, len(a.points)) for a in stored.areas] == [
        ("forehead", "", 2),
        ("cheeks", "left", 1),
    ]
    # The new line takes the settings of the line charted last.
    assert stored.areas[1].technique == spec.areas[0].technique
    assert b"Cheeks" in response.content  # type: ignore[attr-defined]


def test_a_tap_on_a_point_removes_it(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    spec = simple_draft(chart, lot)
    services.save_draft(chart, spec, bookable_pat)
    sign_in(client, bookable_pat)

    post_form(client, chart, spec, action="remove_point", remove_point="2")

    assert len(saved(chart).areas[0].points) == 1


def test_autosave_keeps_every_change_and_answers_with_the_checks(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    spec = simple_draft(chart, lot)
    services.save_draft(chart, spec, bookable_pat)
    sign_in(client, bookable_pat)

    response = post_form(client, chart, replace(spec, notes="Patient anxious; went slowly."))

    assert b'id="chart-checks"' in response.content  # type: ignore[attr-defined]
    assert saved(chart).notes == "Patient anxious; went slowly."


def test_unreadable_input_changes_nothing_and_says_why(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    spec = simple_draft(chart, lot)
    services.save_draft(chart, spec, bookable_pat)
    sign_in(client, bookable_pat)
    data = form_data(replace(spec, notes="changed"), chart.clinic.tz)
    data["area-0-depth_mm"] = "deep"

    response = client.post(reverse("charts:save", args=[chart.pk]), data, headers=HTMX)

    assert response["HX-Retarget"] == "#chart-checks"
    assert "Area line 1: depth: “deep” is not a number." in response.content.decode()
    assert saved(chart).notes == ""


def test_volumes_that_do_not_add_up_show_before_signing(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    spec = simple_draft(chart, lot)
    sign_in(client, bookable_pat)

    response = post_form(
        client, chart, replace(spec, areas=[replace(spec.areas[0], point_count=30)])
    )

    assert "the areas add up to 3.00 mL, not the 2.00 mL drawn" in response.content.decode()  # type: ignore[attr-defined]


def test_adding_a_syringe_and_a_lot_start_from_values_that_save(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    sign_in(client, bookable_pat)
    empty = services.DraftSpec()

    post_form(client, chart, empty, action="add_syringe")
    post_form(client, chart, saved(chart), action="add_lot:0")

    syringe = saved(chart).syringes[0]
    assert syringe.volume_ml == chart.formula_version.total_volume_ml
    assert [line.lot_id for line in syringe.lots] == [lot.pk, lot.pk]


def test_start_now_and_end_now_stamp_the_times(
    client: Client, chart: Chart, bookable_pat: User
) -> None:
    sign_in(client, bookable_pat)
    post_form(client, chart, services.DraftSpec(), action="start_now")
    started = saved(chart).started_at
    assert started is not None
    assert abs(started - chart.appointment.starts_at) < timedelta(minutes=25)


def test_signing_from_the_page_and_the_signed_page_offers_the_pdf(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    sign_in(client, bookable_pat)

    wrong = client.post(reverse("charts:sign", args=[chart.pk]), {"password": "nope"}, follow=True)
    assert b"That password is not right" in wrong.content
    assert Chart.objects.get(pk=chart.pk).signed_at is None

    page = client.post(reverse("charts:sign", args=[chart.pk]), {"password": PASSWORD}, follow=True)

    assert Chart.objects.get(pk=chart.pk).signed_at is not None
    assert b"Chart signed" in page.content
    assert reverse("charts:pdf", args=[chart.pk]).encode() in page.content
    assert b'id="chart-form"' not in page.content


def test_an_assistant_drafts_but_cannot_sign(
    client: Client, chart: Chart, lot: Lot, asha: User
) -> None:
    sign_in(client, asha)
    page = client.get(reverse("charts:chart", args=[chart.pk]))
    assert b'id="chart-form"' in page.content
    assert b"Sign the chart" not in page.content

    post_form(client, chart, simple_draft(chart, lot))
    response = client.post(reverse("charts:sign", args=[chart.pk]), {"password": PASSWORD})

    assert response.status_code == 403
    assert len(saved(chart).areas) == 1


def test_a_signed_chart_is_amended_from_its_page_and_keeps_the_original(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    services.sign(chart, bookable_pat, PASSWORD)
    sign_in(client, bookable_pat)

    refused = client.post(reverse("charts:save", args=[chart.pk]), {"notes": "sneaky"}, follow=True)
    assert b"This chart is signed" in refused.content
    page = client.post(
        reverse("charts:amend", args=[chart.pk]),
        {"field": "pain_score", "value": "6", "reason": "Re-rated at the end of the visit."},
        follow=True,
    )

    amendment = ChartAmendment.objects.get()
    assert (amendment.original, amendment.value, amendment.author) == ("2", "6", bookable_pat)
    text = page.content.decode()
    assert "<del>2</del>" in text
    assert "<ins>6</ins>" in text
    assert "Re-rated at the end of the visit." in text


@pytest.mark.parametrize("name", ["charts:chart", "charts:save", "charts:sign", "charts:amend"])
def test_another_clinics_chart_is_not_found(
    client: Client, chart: Chart, bob: User, name: str
) -> None:
    sign_in(client, bob)
    method = client.get if name == "charts:chart" else client.post
    assert method(reverse(name, args=[chart.pk])).status_code == 404


def test_a_researcher_sees_no_chart(client: Client, chart: Chart, rhea: User) -> None:
    sign_in(client, rhea)
    assert client.get(reverse("charts:chart", args=[chart.pk])).status_code == 403


def test_form_data_and_the_reader_agree(chart: Chart, lot: Lot) -> None:
    spec = simple_draft(chart, lot)
    spec.syringes[0].lots[0].opens_unit = True
    spec.areas[0].points[0].volume_ml = Decimal("0.2")
    tz = chart.clinic.tz

    read = editor.read(_query(form_data(spec, tz)), tz)

    assert spec.started_at is not None
    assert spec.ended_at is not None
    assert read == replace(
        spec,
        started_at=spec.started_at.replace(second=0, microsecond=0),
        ended_at=spec.ended_at.replace(second=0, microsecond=0),
    )


def _query(data: dict[str, str]) -> QueryDict:
    query = QueryDict(mutable=True)
    query.update(data)
    return query


def test_an_autosave_does_not_repeat_the_last_button(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    """htmx sends the form's last-pressed button with a later autosave of the form."""
    spec = simple_draft(chart, lot)
    services.save_draft(chart, spec, bookable_pat)
    sign_in(client, bookable_pat)
    data = form_data(spec, chart.clinic.tz, action="add_point", point_view="face")
    data |= {"point_x": "140", "point_y": "125"}

    response = client.post(
        reverse("charts:save", args=[chart.pk]), data, headers=HTMX | {"HX-Target": "chart-checks"}
    )

    assert b'id="chart-checks"' in response.content
    assert b'id="chart-editor"' not in response.content
    assert len(saved(chart).areas) == 1


def test_guessing_the_signing_password_locks_the_account(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User, settings: object
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    sign_in(client, bookable_pat)
    url = reverse("charts:sign", args=[chart.pk])
    for _ in range(settings.AXES_FAILURE_LIMIT):  # type: ignore[attr-defined]
        client.post(url, {"password": "guess"})

    page = client.post(url, {"password": PASSWORD}, follow=True)

    assert b"Too many wrong passwords" in page.content
    assert Chart.objects.get(pk=chart.pk).signed_at is None


def test_a_practitioners_staff_page_shows_their_experience(
    client: Client, chart: Chart, lot: Lot, bookable_pat: User, alice: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    services.sign(chart, bookable_pat, PASSWORD)
    sign_in(client, alice)

    page = client.get(reverse("clinics:staff-detail", args=[bookable_pat.pk])).content.decode()

    assert "Experience" in page
    assert chart.plan.indication.label in page  # type: ignore[union-attr]
