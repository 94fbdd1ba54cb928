"""Each clinic's staff, and a researcher attached to a clinic, see that clinic's figures on the
evidence pages and in their CSVs: two clinics are built with different numbers of courses,
sessions and bruises, and each user is shown exactly their own clinic's."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.evidence.effects import CSV_HEADER
from mesoclinic.evidence.testing import Registry, RegistrySpec, build_registry
from mesoclinic.evidence.tests.test_safety_views import rows_of

ClientFor = Callable[[User], Client]
BRUISING = "bruising"


@dataclass(frozen=True)
class Expected:
    """What one clinic's pages must show, counted from the planted registry."""

    courses: int
    complete: int  # courses with a baseline and an end value
    sessions: int
    bruised: int  # sessions followed by a bruise, the only side effect planted


def expected(registry: Registry) -> Expected:
    return Expected(
        courses=len(registry.courses),
        complete=sum(course.end is not None for course in registry.courses),
        sessions=len(registry.sessions),
        bruised=registry.side_effect_counts.get(BRUISING, 0),
    )


@pytest.fixture
def clinics(catalogue: None, clinic_a: Clinic, clinic_b: Clinic) -> tuple[Expected, Expected]:
    def spec(seed: int, courses: int, rate: float) -> RegistrySpec:
        return RegistrySpec(
            seed=seed,
            courses_per_formula=courses,
            sessions_per_course=3,
            side_effect_rates=MappingProxyType({BRUISING: rate}),
        )

    a = expected(build_registry(clinic_a, spec(seed=5, courses=8, rate=0.5)))
    b = expected(build_registry(clinic_b, spec(seed=6, courses=6, rate=0.1)))
    # The test means something only if every figure tells the clinics apart.
    assert a.courses != b.courses and a.sessions != b.sessions and a.bruised != b.bruised
    assert a.complete != b.complete
    return a, b


def shown_on_safety_page(client: Client) -> tuple[int, int, int, int]:
    """(sessions, sessions with any side effect, sessions bruised, sessions in that row)."""
    html = client.get(reverse("evidence:safety")).content.decode()
    sessions = re.search(r"<dt>Sessions</dt><dd>(\d+)</dd>", html)
    any_effect = re.search(
        r"<dt>Sessions followed by any side effect</dt>\s*<dd>(\d+) of (\d+)", html
    )
    assert sessions and any_effect
    assert any_effect.group(2) == sessions.group(1)
    # The by-side-effect table's row, its first: per session the rate, then the sessions with
    # it and the sessions (N); then the same per course.
    row = html[html.index('<th scope="row">Bruising</th>') :]
    row = row[: row.index("</tr>")]
    with_it, of = re.findall(r'<td class="num">(\d+)</td>', row)[:2]
    return int(sessions.group(1)), int(any_effect.group(1)), int(with_it), int(of)


def shown_on_outcomes_page(client: Client) -> tuple[int, int]:
    """(courses, courses with a baseline and an end value) of the cellulite section."""
    html = client.get(reverse("evidence:outcomes")).content.decode()
    section = html[html.index('id="indication-cellulite"') :]
    found = re.search(r"Of <strong>(\d+)</strong> courses, (\d+) have a baseline", section)
    assert found
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize(
    ("clinic", "who"), [("a", "pat"), ("b", "bob"), ("b", "a researcher of clinic B")]
)
def test_each_clinics_users_see_their_own_figures_on_the_pages_and_in_the_csvs(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    clinics: tuple[Expected, Expected],
    clinic_b: Clinic,
    clinic: str,
    who: str,
) -> None:
    own = clinics[0] if clinic == "a" else clinics[1]
    user: User = (
        create_user("ruth.researcher", Role.RESEARCHER, clinic_b)
        if who.startswith("a researcher")
        else request.getfixturevalue(who)
    )
    client = client_for(user)

    assert shown_on_safety_page(client) == (own.sessions, own.bruised, own.bruised, own.sessions)
    assert shown_on_outcomes_page(client) == (own.courses, own.complete)

    rates = rows_of(client.get(reverse("evidence:safety-csv")))
    by_row = {(row[0], row[1], row[2]): row for row in rates[1:]}
    assert by_row[("all", "Any side effect", "session")][3:5] == [
        str(own.bruised),
        str(own.sessions),
    ]
    assert by_row[("side-effect", "Bruising", "session")][3:5] == [
        str(own.bruised),
        str(own.sessions),
    ]

    outcomes = rows_of(client.get(reverse("evidence:outcomes-csv")))
    assert tuple(outcomes[0]) == CSV_HEADER
    overall = [row for row in outcomes[1:] if row[2] == "All courses"]
    assert len(overall) == 1  # one indication: the clinic's own
    assert int(overall[0][CSV_HEADER.index("courses")]) == own.courses
    assert int(overall[0][CSV_HEADER.index("with_baseline_and_end")]) == own.complete
