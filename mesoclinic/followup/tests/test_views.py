"""The follow-up pages: the dashboard, the 24-hour form, an event's page; each scoped to the
clinic, each refusal changing nothing."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from mesoclinic.charts.models import Chart, SyringeLot
from mesoclinic.clinics.models import AuditEvent, User
from mesoclinic.followup import services
from mesoclinic.followup.models import AdverseEvent, Flag, FlagAction, FollowUp, FollowUpChannel
from mesoclinic.followup.testing import no_answers

ClientFor = Callable[[User], Client]
NOTE = "Called her: swelling going down, cold packs."


def answer_form(**present: int) -> dict[str, str]:
    return {code: str(grade) for code, grade in no_answers(**present).items()} | {
        "channel": FollowUpChannel.PHONE,
        "notes": "",
    }


def test_the_follow_up_form_records_persisting_swelling_and_the_dashboard_shows_its_flag(
    client_for: ClientFor, day_old_chart: Chart, asha: User, pat: User
) -> None:
    client = client_for(asha)
    page = client.get(f"/follow-up/charts/{day_old_chart.pk}/")
    assert page.status_code == 200
    assert "Any swelling?" in page.content.decode()

    response = client.post(f"/follow-up/charts/{day_old_chart.pk}/answer/", answer_form(swelling=2))

    assert response.status_code == 302
    event = AdverseEvent.objects.get()
    assert (event.side_effect.code, event.grade) == ("swelling", 2)  # type: ignore[union-attr]
    dashboard = client_for(pat).get("/follow-up/").content.decode()
    assert "Swelling still present 30 hours after the session ended" in dashboard
    assert "Rousseau, Camille" in dashboard
    assert "Close the flag" in dashboard
    # The assistant sees the flag but has no close form.
    assert "Close the flag" not in client.get("/follow-up/").content.decode()
    assert AuditEvent.objects.filter(action="view", detail__listed_patient_ids__isnull=False)


def test_a_follow_up_form_with_errors_records_nothing(
    client_for: ClientFor, day_old_chart: Chart, asha: User
) -> None:
    form = answer_form(swelling=2) | {"channel": "", "swelling": "9"}
    response = client_for(asha).post(f"/follow-up/charts/{day_old_chart.pk}/answer/", form)
    assert response.status_code == 422
    assert not FollowUp.objects.exists()
    assert not AdverseEvent.objects.exists()


def test_a_practitioner_closes_a_flag_from_the_dashboard_and_an_assistant_cannot(
    client_for: ClientFor, day_old_chart: Chart, asha: User, pat: User
) -> None:
    services.record_follow_up(day_old_chart, no_answers(swelling=2), asha, FollowUpChannel.PHONE)
    flag = Flag.objects.get()
    url = f"/follow-up/flags/{flag.pk}/close/"

    assert client_for(asha).post(url, {"action": "seen", "note": NOTE}).status_code == 403
    client = client_for(pat)
    client.post(url, {"action": "seen", "note": "short"})
    flag.refresh_from_db()
    assert flag.is_open
    response = client.post(url, {"action": "seen", "note": NOTE}, follow=True)

    flag.refresh_from_db()
    assert (flag.action, flag.closed_by) == (FlagAction.SEEN, pat)
    html = response.content.decode()
    assert "No open flag." in html
    assert "Patient seen at the clinic" in html


def test_my_tasks_shows_only_the_flags_assigned_to_me(
    client_for: ClientFor, day_old_chart: Chart, asha: User, pat: User, alice: User
) -> None:
    services.record_follow_up(day_old_chart, no_answers(swelling=2), asha, FollowUpChannel.PHONE)
    assert "Swelling still present" in client_for(pat).get("/follow-up/?mine=1").content.decode()
    mine = client_for(alice).get("/follow-up/?mine=1").content.decode()
    assert "No open flag is assigned to you." in mine


def test_another_clinic_s_session_event_and_flag_are_not_found(
    client_for: ClientFor, chart: Chart, asha: User, bob: User
) -> None:
    event = services.report_event(
        chart,
        services.EventSpec(onset_on=services.session_day(chart), grade=3, side_effect="pain"),
        asha,
        "staff",
    )
    flag = event.flags.get()
    client = client_for(bob)
    for url in (
        f"/follow-up/charts/{chart.pk}/",
        f"/follow-up/charts/{chart.pk}/report/",
        f"/follow-up/events/{event.pk}/",
        f"/follow-up/patients/{chart.patient_id}/",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            f"/follow-up/flags/{flag.pk}/close/", {"action": "seen", "note": NOTE}
        ).status_code
        == 404
    )
    assert client.post(f"/follow-up/charts/{chart.pk}/answer/", answer_form()).status_code == 404
    dashboard = client.get("/follow-up/")
    assert dashboard.status_code == 200
    assert "Rousseau" not in dashboard.content.decode()
    flag.refresh_from_db()
    assert flag.is_open and not FollowUp.objects.exists()


def test_the_event_form_refuses_an_area_not_treated_and_records_a_good_one(
    client_for: ClientFor, chart: Chart, asha: User
) -> None:
    client = client_for(asha)
    url = f"/follow-up/charts/{chart.pk}/report/"
    form = {
        "side_effect": "bruising",
        "body_area": "forehead",
        "onset_on": services.session_day(chart).isoformat(),
        "grade": "1",
        "outcome": "ongoing",
        "reporter": "staff",
    }
    refused = client.post(url, form | {"body_area": "cheeks"})
    assert refused.status_code == 422
    assert not AdverseEvent.objects.exists()

    response = client.post(url, form)

    event = AdverseEvent.objects.get()
    assert response["Location"] == f"/follow-up/events/{event.pk}/"
    assert event.body_area is not None and event.body_area.code == "forehead"


def test_the_event_page_shows_its_versions_and_causality_is_for_practitioners(
    client_for: ClientFor, chart: Chart, asha: User, pat: User
) -> None:
    event = services.report_event(
        chart,
        services.EventSpec(onset_on=services.session_day(chart), grade=2, side_effect="pain"),
        asha,
        "staff",
    )
    client = client_for(asha)
    update = {
        "update-outcome": "recovering",
        "update-grade": "3",
        "update-treatment": "Paracetamol",
        "update-reason": "Worse the next day.",
        "update-version": str(services.version_of(event)),
    }
    assert client.post(f"/follow-up/events/{event.pk}/update/", update).status_code == 302
    assert (
        client.post(
            f"/follow-up/events/{event.pk}/causality/", {"causality": "possible"}
        ).status_code
        == 403
    )

    practitioner = client_for(pat)
    practitioner.post(f"/follow-up/events/{event.pk}/causality/", {"causality": "possible"})
    html = practitioner.get(f"/follow-up/events/{event.pk}/").content.decode()

    event.refresh_from_db()
    assert (event.grade, event.causality) == (3, "possible")
    assert "Worse the next day." in html
    assert "Reported." in html
    assert "Grade 3 or above" in html
    assert "Record the assessment" in html
    # The lots the session drew on, by which an outbreak is traced.
    (line,) = SyringeLot.objects.filter(chart=chart).select_related("lot__product")
    assert f"{line.lot.product.name}, lot {line.lot.lot_number}" in html
    assert (
        "Record the assessment" not in client.get(f"/follow-up/events/{event.pk}/").content.decode()
    )


def test_the_chart_and_home_pages_link_to_the_follow_up(
    client_for: ClientFor, day_old_chart: Chart, asha: User, pat: User
) -> None:
    client = client_for(pat)
    chart_page = client.get(f"/charts/{day_old_chart.pk}/").content.decode()
    assert f'href="/follow-up/charts/{day_old_chart.pk}/">Record the follow-up' in chart_page
    services.record_follow_up(day_old_chart, no_answers(swelling=2), asha, FollowUpChannel.PHONE)
    home = client.get("/").content.decode()
    assert "1 open</span>" in home
    assert "1 assigned to you" in home
    patient = client.get(f"/follow-up/patients/{day_old_chart.patient_id}/").content.decode()
    assert "Swelling" in patient


def test_an_update_over_a_version_changed_meanwhile_is_refused_and_changes_nothing(
    client_for: ClientFor, chart: Chart, asha: User, pat: User
) -> None:
    event = services.report_event(
        chart,
        services.EventSpec(onset_on=services.session_day(chart), grade=1, side_effect="pain"),
        asha,
        "staff",
    )
    read = services.version_of(event)
    # Someone else records the resolution after the page was opened.
    services.update_event(
        event,
        {"outcome": "resolved", "resolved_on": services.session_day(chart)},
        pat,
        reason="Settled the next day.",
    )
    stale = {
        "update-outcome": "ongoing",
        "update-grade": "1",
        "update-treatment": "Cold pack",
        "update-reason": "Adding the treatment.",
        "update-version": str(read),
    }

    response = client_for(asha).post(f"/follow-up/events/{event.pk}/update/", stale)

    assert response.status_code == 422
    assert "Someone changed this event after you opened it" in response.content.decode()
    event.refresh_from_db()
    assert (event.outcome, event.treatment) == ("resolved", "")
