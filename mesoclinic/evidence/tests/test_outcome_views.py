"""The outcome evidence page and its CSV: who may open them, what they show (a list of the
indications, plot beside the by-formula table, comparison, drop-out, the other groupings
folded), pseudonyms for researchers, no patient named, and a bad filter answered with a form
error."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.evidence.effects import CSV_HEADER
from mesoclinic.evidence.filters import pseudonym
from mesoclinic.evidence.outcome_views import mean_text, plot_label
from mesoclinic.evidence.stats import MIN_COURSES, NOT_ENOUGH_DATA, Estimate
from mesoclinic.evidence.testing import Registry, RegistrySpec, build_registry

pytestmark = pytest.mark.usefixtures("catalogue")

PAGE = reverse("evidence:outcomes")
CSV = reverse("evidence:outcomes-csv")
SPEC = RegistrySpec(
    seed=21, indication="pain-relief", practitioners=3, courses_per_formula=8, baseline_mean=7.0
)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def registries(clinic_a: Clinic, clinic_b: Clinic) -> tuple[Registry, Registry]:
    return build_registry(clinic_a, SPEC), build_registry(clinic_b, SPEC)


def _no_patient_named(text: str, *registries: Registry) -> None:
    for registry in registries:
        for patient in registry.patients:
            assert patient.family_name not in text and patient.given_name not in text
            assert patient.email not in text


def folded(text: str) -> dict[str, tuple[str, str]]:
    """The page's closed <details> groupings: each summary's title -> (its count, its body)."""
    found = re.findall(
        r'<details class="grouping">\s*<summary>(By [^<]+) <span class="muted">\((\d+) groups?\)'
        r"</span></summary>(.*?)</details>",
        text,
        re.DOTALL,
    )
    return {title: (count, body) for title, count, body in found}


def test_staff_page_shows_plot_beside_table_groupings_comparison_and_drop_out(
    pat: User, client_for: Callable[[User], Client], registries: tuple[Registry, Registry]
) -> None:
    a, b = registries

    response = client_for(pat).get(PAGE)

    assert response.status_code == 200
    text = response.content.decode()
    assert "plotly/plotly.min" in text  # the script, under its hashed static name
    # The list at the top links to the indication's section.
    assert 'href="#indication-pain-relief"' in text and 'id="indication-pain-relief"' in text
    # The plot and the by-formula table side by side, open, then the comparison.
    pair = text.index('class="evidence-pair outcome-pair"')
    assert pair < text.index('id="outcome-plot-pain-relief"') < text.index("<caption>By formula")
    assert text.index("<caption>By formula") < text.index("Adjusted comparison between formulas")
    # The other groupings folded, closed, each summary naming it and counting its rows, each
    # table still captioned and headed for a screen reader.
    groupings = folded(text)
    assert set(groupings) == {"By ingredient class", "By practitioner", "By technique"}
    assert groupings["By practitioner"][0] == str(SPEC.practitioners)
    for title, (count, body) in groupings.items():
        assert f'<caption class="visually-hidden">{title}: Pain relief</caption>' in body
        assert body.count('<th scope="row">') == int(count)
    assert '<details class="grouping" open' not in text
    assert text.index("Adjusted comparison between formulas") < text.index(
        '<details class="grouping"'
    )
    # Pain NRS has a published minimal important difference: its share is a column.
    assert "Improved by the MID (95% CI)" in text
    assert "Adjusted for the baseline value" in text
    assert "ended or stopped without an end value at a baseline site (drop-out" in text
    assert "association" in text or "cannot prove" in text  # the honesty note of the frame
    assert f'href="{CSV}"' in text
    # Clinic A's practitioners by name; none of clinic B's, and no patient at all.
    for practitioner in a.practitioners:
        assert str(practitioner) in text
    for practitioner in b.practitioners:
        assert practitioner.last_name not in text
    _no_patient_named(text, a, b)


def test_csv_holds_the_tables(
    pat: User, client_for: Callable[[User], Client], registries: tuple[Registry, Registry]
) -> None:
    a, b = registries

    response = client_for(pat).get(CSV, {"indication": "pain-relief"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == CSV_HEADER
    overall = next(row for row in rows[1:] if row[2] == "All courses")
    assert int(overall[CSV_HEADER.index("courses")]) == len(a.courses)
    assert {row[2] for row in rows[1:]} >= {"By formula", "By practitioner", "By technique"}
    _no_patient_named(response.content.decode(), a, b)


def test_researcher_sees_every_clinic_with_practitioners_by_number(
    rhea: User, client_for: Callable[[User], Client], registries: tuple[Registry, Registry]
) -> None:
    a, b = registries

    response = client_for(rhea).get(PAGE)

    assert response.status_code == 200
    text = response.content.decode()
    for practitioner in a.practitioners + b.practitioners:
        assert pseudonym("Practitioner", practitioner.pk) in text
        assert practitioner.last_name not in text and practitioner.first_name not in text
    _no_patient_named(text, a, b)
    csv_text = client_for(rhea).get(CSV).content.decode()
    assert pseudonym("Practitioner", a.practitioners[0].pk) in csv_text
    for practitioner in a.practitioners + b.practitioners:
        assert practitioner.last_name not in csv_text
    _no_patient_named(csv_text, a, b)


def test_clinic_b_sees_only_its_own(
    bob: User, client_for: Callable[[User], Client], registries: tuple[Registry, Registry]
) -> None:
    a, b = registries

    text = client_for(bob).get(PAGE).content.decode()

    for practitioner in b.practitioners:
        assert str(practitioner) in text
    for practitioner in a.practitioners:
        assert practitioner.last_name not in text


def test_below_the_threshold_the_page_says_not_enough_data(
    pat: User, client_for: Callable[[User], Client], clinic_a: Clinic
) -> None:
    build_registry(clinic_a, RegistrySpec(seed=3, courses_per_formula=MIN_COURSES - 1))

    text = client_for(pat).get(PAGE).content.decode()

    assert NOT_ENOUGH_DATA in text
    assert "outcome-plot-" not in text
    assert "nothing to plot" in text
    assert "No minimal important difference is published" in text
    # ... so the tables have no column for it.
    assert "Improved by the MID" not in text


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"start": "2026-05-01", "end": "2026-04-01"}, "start is after its end"),
        ({"indication": "no-such-thing"}, "Select a valid choice"),
        ({"start": "yesterday"}, "Enter a valid date"),
        # At the calendar's ends a day's bounds in UTC would overflow.
        ({"end": "9999-12-31"}, "Give a date between 1900 and 2199"),
        ({"start": "0001-01-01"}, "Give a date between 1900 and 2199"),
    ],
)
def test_a_bad_filter_is_a_form_error_and_no_report(
    pat: User,
    client_for: Callable[[User], Client],
    registries: tuple[Registry, Registry],
    query: dict[str, str],
    error: str,
) -> None:
    client = client_for(pat)

    response = client.get(PAGE, query)

    # The page is drawn with the form and its error, and no figures from the bad filter.
    assert response.status_code == 200
    text = response.content.decode()
    assert error in text
    assert "How these figures are made" not in text and "outcome-plot-" not in text
    # The CSV has no page to show an error on: 400 with the sentence.
    refused = client.get(CSV, query)
    assert refused.status_code == 400
    assert error in refused.content.decode()


def test_a_practitioner_of_another_clinic_is_not_a_valid_filter(
    pat: User, bob: User, client_for: Callable[[User], Client]
) -> None:
    response = client_for(pat).get(PAGE, {"practitioner": bob.pk})

    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_denied_to_anonymous_and_to_patients(
    url: str, clinic_a: Clinic, client_for: Callable[[User], Client]
) -> None:
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    patient = create_user("paula.patient", Role.PATIENT, clinic_a)
    assert client_for(patient).get(url).status_code == 403


def test_a_plot_label_is_escaped_and_wrapped_for_a_narrow_plot() -> None:
    # A formula name is typed by people, and plotly.js renders some HTML in its labels.
    assert plot_label("<b>Formule très longue pour les cuisses</b>") == (
        "&lt;b&gt;Formule très longue<br>pour les cuisses&lt;/b&gt;"
    )
    assert plot_label("Short") == "Short"


def test_an_estimates_interval_stays_on_one_line() -> None:
    text = mean_text(Estimate(value=-0.5, low=-1.14, high=0.14, n=12))

    assert text == '-0.50 <span class="muted nowrap">(-1.14 to +0.14)</span>'
    assert mean_text(None) == NOT_ENOUGH_DATA
