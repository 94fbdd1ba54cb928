"""Measurements over the API: scales of a course, record (values refused with the range),
list, retract once, the course's result as numbers; another clinic's course is not found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from mesoclinic.clinics.models import User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes.models import Measurement

ClientFor = Callable[[User], Client]
API = "/api/v1/outcomes"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def body(**extra: Any) -> dict[str, Any]:
    when = timezone.localtime(timezone.now() - timedelta(hours=1)).isoformat()
    return {"scale": "hexsel-css", "value": 9, "measured_at": when, "rater": "practitioner"} | extra


def test_scales_of_a_course(client_for: ClientFor, fat_plan: CoursePlan, asha: User) -> None:
    scales = client_for(asha).get(f"{API}/courses/{fat_plan.pk}/scales").json()
    assert scales[0]["code"] == "circumference" and scales[0]["primary"]
    assert scales[0]["site_required"] and scales[0]["unit"] == "cm"
    codes = {scale["code"] for scale in scales}
    assert {"gais", "satisfaction", "body-weight"} <= codes and "hexsel-css" not in codes


def test_record_list_retract_and_result(
    client_for: ClientFor, thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    client = client_for(bookable_pat)
    url = f"{API}/courses/{thigh_plan.pk}/measurements"

    made = post(client, url, body())
    assert made.status_code == 201, made.content
    measured = made.json()
    assert (measured["value"], measured["time_point"], measured["rated_by_id"]) == (
        9,
        "baseline",
        bookable_pat.pk,
    )
    assert measured["measured_at"].endswith(("+01:00", "+02:00"))

    listed = client.get(url).json()
    assert [m["id"] for m in listed] == [measured["id"]]

    result = client.get(f"{API}/courses/{thigh_plan.pk}/result").json()
    assert result["scale"] == "hexsel-css"
    assert result["series"][0]["baseline"] == 9
    assert result["missing"] == ["No end-of-course measurement yet: the course is not over"]

    retract = f"{API}/measurements/{measured['id']}/retract"
    done = post(client, retract, {"reason": "Wrong scale."})
    assert done.status_code == 200 and done.json()["retraction_reason"] == "Wrong scale."
    assert post(client, retract, {"reason": "Again."}).status_code == 409
    assert client.get(url, {"current": True}).json() == []


def test_bad_input_is_refused_with_the_reason(
    client_for: ClientFor, thigh_plan: CoursePlan, asha: User, bob: User
) -> None:
    client = client_for(asha)
    url = f"{API}/courses/{thigh_plan.pk}/measurements"

    out_of_range = post(client, url, body(value=16, rater="assessor"))
    assert out_of_range.status_code == 422
    assert "from 0 to 15 in steps of 1; 16 is outside that range" in out_of_range.json()["detail"]
    off_step = post(client, url, body(value="7.5", rater="assessor"))
    assert "7.5 is not one of them" in off_step.json()["detail"]
    not_serving = post(client, url, body(scale="circumference", value=80, rater="assessor"))
    assert not_serving.status_code == 422 and "not a scale serving" in not_serving.json()["detail"]
    naive = post(client, url, body(measured_at="2026-01-05T10:00:00", rater="assessor"))
    assert naive.status_code == 422
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert post(client, url, body(measured_at=future, rater="assessor")).status_code == 422
    other = post(client, url, body(rater="assessor", rated_by_id=bob.pk))
    assert other.status_code == 422
    assert not Measurement.objects.exists()


def test_another_clinic_and_researchers_are_refused(
    client_for: ClientFor, thigh_plan: CoursePlan, bob: User, rhea: User
) -> None:
    for path in ("scales", "measurements", "result"):
        assert client_for(bob).get(f"{API}/courses/{thigh_plan.pk}/{path}").status_code == 404
        assert client_for(rhea).get(f"{API}/courses/{thigh_plan.pk}/{path}").status_code == 403
    url = f"{API}/courses/{thigh_plan.pk}/measurements"
    assert post(client_for(bob), url, body()).status_code == 404
    assert Client().get(url).status_code == 401
    assert not Measurement.objects.exists()
