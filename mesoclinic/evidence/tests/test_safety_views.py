"""The side-effect rates page and its CSV: who may open them, what they show, and bad input."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from typing import Protocol

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.evidence.filters import pseudonym
from mesoclinic.evidence.safety import MonthRate, rate
from mesoclinic.evidence.safety_views import (
    CLAIM_HEADER,
    RATE_HEADER,
    RESOLUTION_HEADER,
    month_figure,
)
from mesoclinic.evidence.stats import NOT_ENOUGH_DATA
from mesoclinic.evidence.testing import Registry, RegistrySpec, build_registry

ClientFor = Callable[[User], Client]
PAGE = reverse("evidence:safety")
CSV = reverse("evidence:safety-csv")


@pytest.fixture
def registry(catalogue: None, clinic_a: Clinic) -> Registry:
    return build_registry(
        clinic_a,
        RegistrySpec(seed=11, courses_per_formula=5, sessions_per_course=3, injector_share=0.4),
    )


class Download(Protocol):
    status_code: int
    content: bytes


def rows_of(response: Download) -> list[list[str]]:
    """A CSV download's rows, header first."""
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def names_of_patients(registry: Registry) -> set[str]:
    return {name for p in registry.patients for name in (p.given_name, p.family_name)}


def test_staff_see_the_plots_with_their_tables_and_no_patient(
    client_for: ClientFor, asha: User, registry: Registry
) -> None:
    response = client_for(asha).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "plotly/plotly" in html
    assert 'id="safety-month-plot"' in html and 'id="safety-side-effect-plot"' in html
    assert html.count('class="evidence-pair"') == 2
    for table in ("month", "side-effect", "24-hours", "resolution", "lot", "practitioner"):
        assert f"table={table}" in html
    # The rates by what was given and who gave it are folded, closed, each counting its rows.
    by_lot = re.search(
        r'<details class="grouping" id="safety-by-lot">\s*<summary>By lot '
        r'<span class="muted">\((\d+) groups\)</span></summary>(.*?)</details>',
        html,
        re.DOTALL,
    )
    assert by_lot and int(by_lot.group(1)) == len(registry.lots)
    assert by_lot.group(2).count('<th scope="row"') == len(registry.lots)
    assert '<details class="grouping" open' not in html
    assert "association, not proof" in html or "cannot prove" in html
    assert "recorded to the day" in html
    for practitioner in registry.practitioners:
        assert str(practitioner) in html
    for name in names_of_patients(registry):
        assert name not in html


def test_a_researcher_sees_practitioners_by_number_only(
    client_for: ClientFor, rhea: User, registry: Registry
) -> None:
    response = client_for(rhea).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for practitioner in registry.practitioners:
        assert pseudonym("Practitioner", practitioner.pk) in html
        assert practitioner.first_name not in html and practitioner.last_name not in html
    for name in names_of_patients(registry):
        assert name not in html

    table = rows_of(client_for(rhea).get(CSV, {"table": "practitioner"}))
    assert {row[1] for row in table[1:]} == {
        pseudonym("Practitioner", p.pk) for p in registry.practitioners
    }


def test_the_csv_has_every_rate_and_the_other_tables(
    client_for: ClientFor, pat: User, registry: Registry
) -> None:
    client = client_for(pat)
    response = client.get(CSV)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = rows_of(response)
    assert rows[0] == RATE_HEADER
    everything = rows[1]
    assert everything[:5] == [
        "all",
        "Any side effect",
        "session",
        everything[3],
        str(len(registry.sessions)),
    ]
    assert 0 < float(everything[6]) <= float(everything[5]) <= float(everything[7]) < 1
    assert {row[0] for row in rows[1:]} >= {
        "all",
        "month",
        "side-effect",
        "formula",
        "lot",
        "device",
    }

    lots = rows_of(client.get(CSV, {"table": "lot"}))
    assert {row[0] for row in lots[1:]} == {"lot"}
    assert len(lots) == 1 + len(registry.lots)

    assert rows_of(client.get(CSV, {"table": "resolution"}))[0] == RESOLUTION_HEADER
    claim = rows_of(client.get(CSV, {"table": "24-hours"}))
    assert claim[0] == CLAIM_HEADER
    # No follow-up in this registry: nobody checked the next day, so no figure.
    assert [row[-4] for row in claim[1:] if row[0].startswith("still present")] == [
        NOT_ENOUGH_DATA,
        NOT_ENOUGH_DATA,
    ]


def test_the_filters_reach_the_csv(client_for: ClientFor, pat: User, registry: Registry) -> None:
    day = registry.sessions[0].day.isoformat()
    rows = rows_of(client_for(pat).get(CSV, {"start": day, "end": day, "table": "all"}))
    that_day = sum(s.day.isoformat() == day for s in registry.sessions)
    assert rows[1][4] == str(that_day)
    assert rows[1][-1] == NOT_ENOUGH_DATA


def test_a_bad_filter_is_a_form_error_and_no_report(
    client_for: ClientFor, pat: User, bob: User, registry: Registry
) -> None:
    client = client_for(pat)
    response = client.get(PAGE, {"start": "2026-03-01", "end": "2026-02-01"})
    html = response.content.decode()
    assert "The period&#x27;s start is after its end." in html
    assert "Over time" not in html
    # Another clinic's practitioner is not a choice.
    response = client.get(PAGE, {"practitioner": bob.pk})
    assert "Select a valid choice" in response.content.decode()
    assert "Over time" not in response.content.decode()

    refused = client.get(CSV, {"start": "not a date"})
    assert refused.status_code == 400
    assert "Enter a valid date" in refused.content.decode()
    refused = client.get(CSV, {"table": "patients"})
    assert refused.status_code == 400
    assert "There is no table 'patients'" in refused.content.decode()


def test_a_role_without_evidence_view_is_refused(
    client_for: ClientFor, clinic_a: Clinic, registry: Registry
) -> None:
    patient = create_user("paula.patient", Role.PATIENT, clinic_a)
    client = client_for(patient)
    for url in (PAGE, CSV):
        assert client.get(url).status_code == 403
    anonymous = Client().get(PAGE)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))


def test_the_page_answers_only_get(client_for: ClientFor, pat: User) -> None:
    assert client_for(pat).post(PAGE).status_code == 405


def test_the_month_plot_breaks_its_line_where_a_month_has_no_estimate() -> None:
    by_month = [
        MonthRate(date(2025, 11, 1), rate("2025-11", 3, 20)),
        MonthRate(date(2025, 12, 1), rate("2025-12", 1, 2)),  # too few sessions
        MonthRate(date(2026, 1, 1), rate("2026-01", 4, 10)),
        # February has no session at all.
        MonthRate(date(2026, 3, 1), rate("2026-03", 0, 8)),
    ]
    figure = month_figure(by_month)
    assert figure is not None
    trace = figure.data[0]
    assert [x.isoformat() for x in trace.x] == [
        "2025-11-01",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]
    assert trace.y == (15.0, None, 40.0, None, 0.0)
    assert trace.connectgaps is not True
    assert trace.error_y.array[1] is None and trace.error_y.array[0] > 0
    assert (figure.layout.xaxis.tickformat, figure.layout.xaxis.dtick) == ("%b %Y", "M1")
    assert month_figure(by_month[1:2]) is None
