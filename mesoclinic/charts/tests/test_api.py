"""Treatment charts over the API: started through the gate, a draft saved whole and read back
as sent, bad input refused with nothing changed, signing once with the practitioner's
password, a signed chart that no request changes, amendments that keep the original, and
who may do what."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from mesoclinic.charts import services
from mesoclinic.charts.api import AreaIn, DraftIn, PointIn, SyringeIn, SyringeLotIn
from mesoclinic.charts.models import Chart, ChartAmendment
from mesoclinic.charts.testing import simple_draft, stock_lot
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.consent import services as consent
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan
from mesoclinic.formulas.models import Lot, LotUse

ClientFor = Callable[[User], Client]
API = "/api/v1/charts"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """Argon2 takes half a second a user, and every test makes several; the password itself is
    still checked when signing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, body, content_type="application/json")


def _plain(value: Any) -> Any:
    """A draft's value as JSON carries it: decimals as strings without trailing zeros, times
    as instants (compared as such, whatever the offset they are written with)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def body_of(spec: services.DraftSpec) -> dict[str, Any]:
    body: dict[str, Any] = _plain(spec)
    return body


# The schema of each level of a draft, to pick the draft's own fields out of a chart as read.
_LEVELS: dict[str, type[Any]] = {
    "syringes": SyringeIn,
    "lots": SyringeLotIn,
    "areas": AreaIn,
    "points": PointIn,
}


def drafted(read: dict[str, Any], schema: type[Any] = DraftIn) -> dict[str, Any]:
    picked = {}
    for name in schema.model_fields:
        value = read[name]
        if name in _LEVELS:
            value = [drafted(item, _LEVELS[name]) for item in value]
        elif name in ("started_at", "ended_at") and value is not None:
            value = datetime.fromisoformat(value)
        picked[name] = value
    return picked


def same_draft(read: dict[str, Any], body: dict[str, Any]) -> bool:
    sent = drafted(body)
    return drafted(read) == sent


def draft_saved(chart: Chart, lot: Lot, pat: User) -> services.DraftSpec:
    draft = simple_draft(chart, lot)
    services.save_draft(chart, draft, pat)
    return draft


# --- starting -------------------------------------------------------------------------


def test_a_chart_starts_through_the_api_once(
    client_for: ClientFor, session: Appointment, face_plan: CoursePlan, asha: User
) -> None:
    client = client_for(asha)

    started = post(client, f"{API}/", {"appointment_id": session.pk})

    assert started.status_code == 201, started.content
    body = started.json()
    chart = Chart.objects.get(appointment=session)
    assert body["id"] == chart.pk
    assert body["status"] == "draft"
    assert (body["session_number"], body["sessions_planned"]) == (1, face_plan.sessions_planned)
    assert body["syringes"] == [] and body["areas"] == []
    assert "Record when the session started and ended." in body["problems"]
    assert body["content_sha256"] is None and body["signed_at"] is None
    assert body["appointment_starts_at"].endswith(("+01:00", "+02:00"))  # the clinic's zone

    again = post(client, f"{API}/", {"appointment_id": session.pk})
    assert again.status_code == 200
    assert again.json()["id"] == chart.pk
    assert Chart.objects.count() == 1


def test_no_chart_starts_without_a_valid_consent(
    client_for: ClientFor, session: Appointment, asha: User
) -> None:
    document = consent.valid_consent(session.plan, timezone.now())  # type: ignore[arg-type]
    assert document is not None
    consent.withdraw(document, "Changed her mind.", actor=asha, how="in_person")

    refused = post(client_for(asha), f"{API}/", {"appointment_id": session.pk})

    assert refused.status_code == 422
    assert "No valid consent" in refused.json()["detail"]
    assert not Chart.objects.exists()


def test_a_chart_cannot_start_on_what_the_clinic_does_not_hold(
    client_for: ClientFor, session: Appointment, asha: User
) -> None:
    client = client_for(asha)
    unknown = post(client, f"{API}/", {"appointment_id": session.pk + 1000})
    assert unknown.status_code == 422
    assert "No appointment of this clinic" in unknown.json()["detail"]
    copy = post(client, f"{API}/", {"appointment_id": session.pk, "copy_from_id": 999_999})
    assert copy.status_code == 422
    assert not Chart.objects.exists()


# --- the draft ------------------------------------------------------------------------


def test_a_draft_put_is_read_back_as_sent(
    client_for: ClientFor, chart: Chart, lot: Lot, asha: User
) -> None:
    client = client_for(asha)
    draft = simple_draft(chart, lot)
    body = body_of(draft)

    saved = put(client, f"{API}/{chart.pk}/draft", body)

    assert saved.status_code == 200, saved.content
    read = client.get(f"{API}/{chart.pk}")
    assert read.status_code == 200
    got = read.json()
    assert same_draft(got, body)
    assert services.spec_of(Chart.objects.get(pk=chart.pk)) == draft
    assert got["syringes"][0]["lots"][0] == {
        "lot_id": lot.pk,
        "lot_number": "CH-001",
        "product_id": lot.product_id,
        "product_name": "Carnitine 1 g",
        "volume_ml": "2",
        "opens_unit": False,
        "lot_use_id": None,
    }
    assert got["areas"][0]["area_label"] and got["areas"][0]["volume_ml"] == "2"
    assert [point["number"] for point in got["areas"][0]["points"]] == [1, 2]
    assert got["totals"] == [
        {"syringe": 1, "drawn_ml": "2", "lots_ml": "2", "areas_ml": "2", "balanced": True}
    ]
    assert got["problems"] == []
    assert got["started_at"].endswith(("+01:00", "+02:00"))
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="charts.Chart", object_id=str(chart.pk), actor=asha
    ).exists()

    # What was read can be sent back as it is: the fields the draft does not take are ignored.
    again = put(client, f"{API}/{chart.pk}/draft", got)
    assert again.status_code == 200, again.content
    assert services.spec_of(Chart.objects.get(pk=chart.pk)) == draft


def test_an_unfinished_draft_is_kept_and_says_what_stops_signing(
    client_for: ClientFor, chart: Chart, lot: Lot, asha: User
) -> None:
    body = body_of(simple_draft(chart, lot))
    body["syringes"][0]["lots"][0]["volume_ml"] = "1.5"

    saved = put(client_for(asha), f"{API}/{chart.pk}/draft", body)

    assert saved.status_code == 200, saved.content
    assert saved.json()["problems"] == [
        "Syringe 1: its lots add up to 1.50 mL, not the 2.00 mL drawn."
    ]
    assert saved.json()["totals"][0]["balanced"] is False


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("areas.0.area", "elbow"), "no body area “elbow”"),
        (_set("areas.0.syringe", 2), "there is no syringe 2"),
        (_set("areas.0.depth_mm", "40"), "check the unit"),
        (_set("areas.0.points.0.x", "1"), "outside"),
        (_set("areas.0.area", "chin"), "does not belong to this area"),
        (_set("syringes.0.lots.0.lot_id", 999_999), "no lot 999999 in this clinic's stock"),
        (_set("ended_at", "2026-03-16T10:00:00"), "no UTC offset"),
        (_set("started_at", "1999-03-16T10:00:00+01:00"), "between 2000 and 2100"),
        (_set("areas.0.technique", "tattoo"), "technique"),
        (_set("syringes.0.volume_ml", "2.001"), "decimal"),
        (_set("pain_score", 11), "less than or equal to 10"),
        (_set("notes", "a\x00b"), "NUL character"),
        (_set("anaesthetic_product", "x" * 201), "at most 200"),
    ],
    ids=[
        "unknown-area",
        "unknown-syringe",
        "depth-in-wrong-unit",
        "point-off-the-map",
        "point-in-another-area",
        "unknown-lot",
        "time-without-offset",
        "time-out-of-range",
        "unknown-technique",
        "too-many-decimals",
        "pain-out-of-range",
        "nul",
        "too-long",
    ],
)
def test_a_bad_draft_is_refused_and_changes_nothing(
    client_for: ClientFor,
    chart: Chart,
    lot: Lot,
    bookable_pat: User,
    asha: User,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    good = draft_saved(chart, lot, bookable_pat)
    body = body_of(good)
    change(body)

    refused = put(client_for(asha), f"{API}/{chart.pk}/draft", body)

    assert refused.status_code == 422, refused.content
    assert message in str(refused.json()["detail"])
    assert services.spec_of(Chart.objects.get(pk=chart.pk)) == good


def test_another_clinics_lot_is_refused_in_a_draft(
    client_for: ClientFor, chart: Chart, lot: Lot, bob: User, asha: User
) -> None:
    assert bob.clinic is not None
    theirs = stock_lot(bob.clinic, bob, number="B-1")

    refused = put(client_for(asha), f"{API}/{chart.pk}/draft", body_of(simple_draft(chart, theirs)))

    assert refused.status_code == 422
    assert f"no lot {theirs.pk} in this clinic's stock" in refused.json()["detail"]
    assert not chart.syringes.exists()


# --- signing --------------------------------------------------------------------------


def test_signing_twice_takes_the_lots_from_stock_once(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    draft_saved(chart, lot, bookable_pat)
    client = client_for(bookable_pat)

    first = post(client, f"{API}/{chart.pk}/sign", {"password": PASSWORD})
    second = post(client, f"{API}/{chart.pk}/sign", {"password": PASSWORD})

    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    assert first.json() == second.json()
    body = first.json()
    stored = Chart.objects.get(pk=chart.pk)
    assert body["status"] == "signed"
    assert body["signed_by_id"] == bookable_pat.pk
    assert body["content_sha256"] == stored.content_sha256 == services.content_hash(stored)
    assert body["problems"] == []
    assert body["syringes"][0]["lots"][0]["lot_use_id"] == LotUse.objects.get().pk
    lot.refresh_from_db()
    assert lot.remaining_units == 9
    assert stored.appointment.status == AppointmentStatus.ATTENDED


def test_a_wrong_password_signs_nothing(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    draft_saved(chart, lot, bookable_pat)

    refused = post(client_for(bookable_pat), f"{API}/{chart.pk}/sign", {"password": "guess"})

    assert refused.status_code == 422
    assert "password is not right" in refused.json()["detail"]
    assert Chart.objects.get(pk=chart.pk).signed_at is None
    assert not LotUse.objects.exists()


def test_a_chart_that_cannot_be_signed_says_why(
    client_for: ClientFor, chart: Chart, bookable_pat: User
) -> None:
    refused = post(client_for(bookable_pat), f"{API}/{chart.pk}/sign", {"password": PASSWORD})

    assert refused.status_code == 422
    assert "Record when the session started and ended." in refused.json()["detail"]
    assert "Chart at least one treated area on the map." in refused.json()["detail"]
    assert Chart.objects.get(pk=chart.pk).signed_at is None


@pytest.mark.parametrize("name", ["asha", "alice"])
def test_only_a_practitioner_signs(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    chart: Chart,
    lot: Lot,
    bookable_pat: User,
    name: str,
) -> None:
    draft_saved(chart, lot, bookable_pat)
    client = client_for(request.getfixturevalue(name))

    refused = post(client, f"{API}/{chart.pk}/sign", {"password": PASSWORD})

    assert refused.status_code == 403
    assert Chart.objects.get(pk=chart.pk).signed_at is None
    assert not LotUse.objects.exists()


def test_a_signed_chart_cannot_be_changed_through_the_api(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User, asha: User
) -> None:
    draft = draft_saved(chart, lot, bookable_pat)
    services.sign(chart, bookable_pat, PASSWORD)
    signed = Chart.objects.get(pk=chart.pk)
    changed = body_of(dataclasses.replace(draft, notes="Rewritten afterwards."))

    for client in (client_for(asha), client_for(bookable_pat)):
        refused = put(client, f"{API}/{chart.pk}/draft", changed)
        assert refused.status_code == 409
        assert refused.json()["detail"] == "This chart is signed: correct it with an amendment."

    after = Chart.objects.get(pk=chart.pk)
    assert after.content_sha256 == signed.content_sha256 == services.content_hash(after)
    assert after.notes == ""
    assert services.spec_of(after) == draft


# --- amendments -----------------------------------------------------------------------


def test_an_amendment_keeps_the_original(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    draft_saved(chart, lot, bookable_pat)
    services.sign(chart, bookable_pat, PASSWORD)
    client = client_for(bookable_pat)
    url = f"{API}/{chart.pk}/amendments"

    made = post(client, url, {"field": "pain_score", "value": "4", "reason": "Rated again."})

    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["field"], body["original"], body["value"]) == ("pain_score", "2", "4")
    assert body["author_id"] == bookable_pat.pk
    ended_at = Chart.objects.get(pk=chart.pk).ended_at
    assert ended_at is not None
    later = timezone.localtime(ended_at + timedelta(minutes=5), chart.clinic.tz)
    moved = post(
        client, url, {"field": "ended_at", "value": later.isoformat(), "reason": "Clock was off."}
    )
    assert moved.status_code == 201, moved.content

    read = client.get(f"{API}/{chart.pk}").json()
    assert read["pain_score"] == 2  # as signed
    assert read["effective"]["pain_score"] == 4
    assert datetime.fromisoformat(read["effective"]["ended_at"]) == later
    assert [a["field"] for a in read["amendments"]] == ["pain_score", "ended_at"]
    assert read["content_sha256"] == Chart.objects.get(pk=chart.pk).content_sha256
    listed = client.get(url)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [a["id"] for a in read["amendments"]]


def test_amendments_that_make_no_sense_are_refused(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    draft_saved(chart, lot, bookable_pat)
    client = client_for(bookable_pat)
    url = f"{API}/{chart.pk}/amendments"

    draft = post(client, url, {"field": "notes", "value": "x", "reason": "Because."})
    assert draft.status_code == 409
    assert "amendments are for signed charts" in draft.json()["detail"]

    services.sign(chart, bookable_pat, PASSWORD)
    for body, message in [
        ({"field": "pain_score", "value": "12", "reason": "Typo."}, "0 to 10"),
        ({"field": "pain_score", "value": "2", "reason": "Typo."}, "already holds"),
        ({"field": "started_at", "value": "2026-03-16T10:00:00", "reason": "x"}, "no UTC offset"),
        ({"field": "started_at", "value": "2026-02-30T10:00:00+01:00", "reason": "x"}, "ISO 8601"),
        ({"field": "formula_version", "value": "3", "reason": "Wrong mix."}, "enum"),
        ({"field": "notes", "value": "Fine", "reason": ""}, "at least 1"),
    ]:
        refused = post(client, url, body)
        assert refused.status_code == 422, (body, refused.content)
        assert message in str(refused.json()["detail"]), body
    assert not ChartAmendment.objects.exists()


def test_an_assistant_cannot_amend(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User, asha: User
) -> None:
    draft_saved(chart, lot, bookable_pat)
    services.sign(chart, bookable_pat, PASSWORD)
    body = {"field": "notes", "value": "Settled.", "reason": "Forgot."}

    assert post(client_for(asha), f"{API}/{chart.pk}/amendments", body).status_code == 403
    assert not ChartAmendment.objects.exists()


# --- listing --------------------------------------------------------------------------


def test_charts_are_listed_and_filtered(
    client_for: ClientFor, chart: Chart, face_plan: CoursePlan, asha: User
) -> None:
    client = client_for(asha)

    listed = client.get(f"{API}/")

    assert listed.status_code == 200
    (row,) = listed.json()
    assert (row["id"], row["status"], row["session_number"]) == (chart.pk, "draft", 1)
    assert row["sessions_planned"] == face_plan.sessions_planned
    assert row["patient_name"] == str(chart.patient)
    assert "syringes" not in row
    for query in (
        f"patient_id={chart.patient_id}",
        f"plan_id={face_plan.pk}",
        f"appointment_id={chart.appointment_id}",
        "status=draft",
    ):
        assert [c["id"] for c in client.get(f"{API}/?{query}").json()] == [chart.pk], query
    assert client.get(f"{API}/?status=signed").json() == []
    assert client.get(f"{API}/?patient_id=999999").status_code == 404
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, actor=asha, detail__listed_patient_ids=[chart.patient_id]
    ).exists()


# --- who may ----------------------------------------------------------------------------


def _every_operation(chart: Chart) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("get", f"{API}/", None),
        ("get", f"{API}/{chart.pk}", None),
        ("post", f"{API}/", {"appointment_id": chart.appointment_id}),
        ("put", f"{API}/{chart.pk}/draft", {}),
        ("post", f"{API}/{chart.pk}/sign", {"password": PASSWORD}),
        ("get", f"{API}/{chart.pk}/amendments", None),
        ("post", f"{API}/{chart.pk}/amendments", {"field": "notes", "value": "x", "reason": "y"}),
    ]


def _call(client: Client, method: str, url: str, body: dict[str, Any] | None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type="application/json")


def test_another_clinics_chart_is_not_found(
    client_for: ClientFor, chart: Chart, lot: Lot, bookable_pat: User, bob: User
) -> None:
    draft = draft_saved(chart, lot, bookable_pat)
    client = client_for(bob)

    for method, url, body in _every_operation(chart):
        response = _call(client, method, url, body)
        if url == f"{API}/":
            # Listed: none of clinic A's; named in a body: invalid.
            assert response.status_code == (200 if method == "get" else 422), url
            assert method == "post" or response.json() == []
        else:
            assert response.status_code == 404, (method, url, response.status_code)
    assert client.get(f"{API}/?patient_id={chart.patient_id}").status_code == 404
    stored = Chart.objects.get(pk=chart.pk)
    assert stored.signed_at is None
    assert services.spec_of(stored) == draft
    assert Chart.objects.count() == 1


def test_a_researcher_is_refused_and_an_anonymous_caller_is_unauthorised(
    client_for: ClientFor, client: Client, chart: Chart, rhea: User
) -> None:
    researcher = client_for(rhea)
    for method, url, body in _every_operation(chart):
        assert _call(researcher, method, url, body).status_code == 403, (method, url)
        assert _call(client, method, url, body).status_code == 401, (method, url)
    assert Chart.objects.get(pk=chart.pk).syringes.count() == 0


@pytest.mark.parametrize("lot_id", [0, 2**31, 2**63 - 1, 2**63, 2**70, -(2**70)])
def test_an_id_out_of_any_range_is_refused_not_a_crash(
    client_for: ClientFor, chart: Chart, lot: Lot, asha: User, lot_id: int
) -> None:
    body = body_of(simple_draft(chart, lot))
    body["syringes"][0]["lots"][0]["lot_id"] = lot_id
    client = client_for(asha)

    assert put(client, f"{API}/{chart.pk}/draft", body).status_code == 422
    assert post(client, f"{API}/", {"appointment_id": lot_id}).status_code == 422
    assert post(client, f"{API}/", {"appointment_id": 1, "copy_from_id": lot_id}).status_code == 422
    assert client.get(f"{API}/{lot_id}").status_code in (404, 422)
    assert client.get(f"{API}/?patient_id={lot_id}").status_code in (404, 422)
