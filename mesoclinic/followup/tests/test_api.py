"""The follow-up API: events, the 24-hour follow-up, flags, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client

from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import User
from mesoclinic.followup.models import AdverseEvent, Flag, FollowUp
from mesoclinic.followup.testing import no_answers

ClientFor = Callable[[User], Client]
API = "/api/v1/followup"
NOTE = "Seen at the clinic: drained and swabbed."


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(f"{API}{url}", body, content_type="application/json")


def test_the_follow_up_is_read_then_recorded_once(
    client_for: ClientFor, day_old_chart: Chart, asha: User
) -> None:
    client = client_for(asha)
    url = f"/charts/{day_old_chart.pk}/follow-up"
    before = client.get(f"{API}{url}").json()
    assert before["follow_up"] is None
    assert [q["code"] for q in before["questions"]][:2] == ["bruising", "swelling"]

    response = post(client, url, {"answers": no_answers(swelling=2), "channel": "phone"})

    assert response.status_code == 201, response.content
    follow_up = response.json()["follow_up"]
    assert follow_up["answers"]["swelling"] == 2
    (event_id,) = follow_up["adverse_event_ids"]
    event = client.get(f"{API}/events/{event_id}").json()
    assert [flag["kind"] for flag in event["flags"]] == ["persisting"]
    again = post(client, url, {"answers": no_answers(), "channel": "phone"})
    assert again.status_code == 409
    assert FollowUp.objects.count() == 1


def test_a_follow_up_with_a_time_without_offset_or_missing_answers_is_422(
    client_for: ClientFor, day_old_chart: Chart, asha: User
) -> None:
    client = client_for(asha)
    url = f"/charts/{day_old_chart.pk}/follow-up"
    naive = {"answers": no_answers(), "channel": "phone", "answered_at": "2026-01-05T10:00:00"}
    assert post(client, url, naive).status_code == 422
    missing = post(client, url, {"answers": {"bruising": 1}, "channel": "phone"})
    assert missing.status_code == 422
    assert "Answer every question" in missing.json()["detail"]
    assert not FollowUp.objects.exists()


def test_events_are_reported_updated_assessed_and_retracted(
    client_for: ClientFor, chart: Chart, asha: User, pat: User
) -> None:
    client = client_for(asha)
    refused = post(
        client,
        f"/charts/{chart.pk}/events",
        {"side_effect": "pain", "grade": 2, "body_area": "cheeks"},
    )
    assert refused.status_code == 422
    assert "cheeks was not treated" in refused.json()["detail"]

    created = post(
        client,
        f"/charts/{chart.pk}/events",
        {"side_effect": "pain", "grade": 2, "body_area": "forehead"},
    )
    assert created.status_code == 201, created.content
    event = created.json()
    assert (event["grade"], event["flags"], event["reporter"]) == (2, [], "staff")

    patched = client.patch(
        f"{API}/events/{event['id']}",
        {"grade": 3, "reason": "Worse on day two."},
        content_type="application/json",
    ).json()
    assert [flag["kind"] for flag in patched["flags"]] == ["severe"]
    assert [v["reason"] for v in patched["versions"]] == ["Worse on day two.", "Reported."]

    causality = {"causality": "possible"}
    assert post(client, f"/events/{event['id']}/causality", causality).status_code == 403
    assessed = post(client_for(pat), f"/events/{event['id']}/causality", causality)
    assert assessed.json()["causality"] == "possible"

    retracted = post(client, f"/events/{event['id']}/retract", {"reason": "Wrong patient, sorry."})
    assert retracted.json()["retracted_at"] is not None
    listed = client.get(f"{API}/charts/{chart.pk}/events").json()
    assert [e["retraction_reason"] for e in listed] == ["Wrong patient, sorry."]


def test_flags_are_listed_and_closed_once_by_a_practitioner(
    client_for: ClientFor, chart: Chart, asha: User, pat: User
) -> None:
    post(client_for(asha), f"/charts/{chart.pk}/events", {"side_effect": "infection", "grade": 1})
    flag = Flag.objects.get()
    client = client_for(pat)
    assert [f["id"] for f in client.get(f"{API}/flags?open=true").json()] == [flag.pk]
    assert client.get(f"{API}/flags?mine=true").json()[0]["assigned_to_id"] == pat.pk

    close = {"action": "seen", "action_note": NOTE}
    assert post(client_for(asha), f"/flags/{flag.pk}/close", close).status_code == 403
    assert post(client, f"/flags/{flag.pk}/close", close | {"action_note": "ok"}).status_code == 422
    closed = post(client, f"/flags/{flag.pk}/close", close)
    assert closed.status_code == 200
    assert (closed.json()["open"], closed.json()["action"]) == (False, "seen")
    assert post(client, f"/flags/{flag.pk}/close", close).status_code == 409
    assert client.get(f"{API}/flags?open=true").json() == []


def test_due_follow_ups_and_another_clinic(
    client_for: ClientFor, day_old_chart: Chart, asha: User, bob: User
) -> None:
    due = client_for(asha).get(f"{API}/due").json()
    assert [(d["chart_id"], d["overdue"]) for d in due] == [(day_old_chart.pk, False)]

    other = client_for(bob)
    assert other.get(f"{API}/due").json() == []
    assert other.get(f"{API}/charts/{day_old_chart.pk}/follow-up").status_code == 404
    body = {"answers": no_answers(), "channel": "phone"}
    assert post(other, f"/charts/{day_old_chart.pk}/follow-up", body).status_code == 404
    assert (
        post(
            other, f"/charts/{day_old_chart.pk}/events", {"side_effect": "pain", "grade": 1}
        ).status_code
        == 404
    )
    assert other.get(f"{API}/flags?chart_id={day_old_chart.pk}").status_code == 404
    assert not FollowUp.objects.exists() and not AdverseEvent.objects.exists()
