from __future__ import annotations

import pytest
from django.test import Client

from mesoclinic.catalogue.loader import LoadReport
from mesoclinic.catalogue.models import Indication

BASE = "/api/v1/catalogue"
LISTS = [
    "indications",
    "body-areas",
    "outcome-scales",
    "side-effects",
    "ingredient-classes",
    "drug-classes",
    "precare-rules",
    "protocols",
    "patient-information",
]


@pytest.mark.parametrize("name", LISTS)
def test_anonymous_requests_are_refused(db: None, client: Client, name: str) -> None:
    response = client.get(f"{BASE}/{name}")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("name", "count"), list(zip(LISTS, [10, 15, 26, 12, 9, 12, 1, 1, 18], strict=True))
)
def test_each_list_is_returned_to_a_signed_in_user(
    catalogue: LoadReport, alice_client: Client, name: str, count: int
) -> None:
    response = alice_client.get(f"{BASE}/{name}")

    assert response.status_code == 200
    assert len(response.json()) == count


def test_entries_carry_their_details(catalogue: LoadReport, alice_client: Client) -> None:
    indications = {i["code"]: i for i in alice_client.get(f"{BASE}/indications").json()}
    assert indications["cellulite"]["primary_scale"] == "hexsel-css"
    assert indications["cellulite"]["data_version"] == 1

    scales = {s["code"]: s for s in alice_client.get(f"{BASE}/outcome-scales").json()}
    glogau = scales["glogau"]
    assert glogau["kind"] == "ordinal"
    assert [level["label"] for level in glogau["levels"]] == [
        "Type I",
        "Type II",
        "Type III",
        "Type IV",
    ]
    assert sorted(glogau["indications"]) == ["dull-skin", "wrinkles-and-lines"]
    assert float(scales["masi"]["step"]) == 0.1

    areas = {a["code"]: a for a in alice_client.get(f"{BASE}/body-areas").json()}
    assert areas["forehead"]["parent"] == "face"
    assert areas["face"]["parent"] is None

    rule = alice_client.get(f"{BASE}/precare-rules").json()[0]
    assert rule["window_days"] == 7
    assert "salicylates" in rule["drug_classes"]

    classes = {c["atc_code"]: c for c in alice_client.get(f"{BASE}/drug-classes").json()}
    assert {"name": "Eliquis", "normalised_name": "eliquis", "kind": "brand", "retired": False} in (
        classes["B01AF"]["names"]
    )


def test_retired_entries_only_on_request(catalogue: LoadReport, alice_client: Client) -> None:
    Indication.objects.filter(code="cellulite").update(retired=True)

    active = alice_client.get(f"{BASE}/indications").json()
    everything = alice_client.get(f"{BASE}/indications?include_retired=true").json()

    assert "cellulite" not in [i["code"] for i in active]
    assert [i["retired"] for i in everything if i["code"] == "cellulite"] == [True]


def test_the_lists_are_described_in_the_openapi_schema(alice_client: Client) -> None:
    schema = alice_client.get("/api/v1/openapi.json").json()

    for name in LISTS:
        assert f"{BASE}/{name}" in schema["paths"]
    assert "OutcomeScaleOut" in schema["components"]["schemas"]
