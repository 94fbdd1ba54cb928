"""The pages every person meets first, through Django's test client (no browser)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client

from mesoclinic.clinics.models import Licence, Role, User
from mesoclinic.clinics.testing import create_user

ClientFor = Callable[[User], Client]


@pytest.fixture
def pat_client(pat: User, client_for: ClientFor) -> Client:
    return client_for(pat)


def licence(practitioner: User, number: str, days_left: int) -> Licence:
    assert practitioner.clinic is not None
    today = practitioner.clinic.today()
    return Licence.objects.create(
        practitioner=practitioner,
        number=number,
        issuing_body="Ordre des médecins",
        jurisdiction="France",
        valid_from=today - timedelta(days=365),
        valid_until=today + timedelta(days=days_left),
    )


class LinkCollector(HTMLParser):
    """The hrefs of links inside the main navigation, and of stylesheets, scripts and images."""

    def __init__(self) -> None:
        super().__init__()
        self.nav_links: list[str] = []
        self.assets: list[str] = []
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "nav" and attributes.get("aria-label") == "Main":
            self._in_nav = True
        elif tag == "a" and self._in_nav and attributes.get("href"):
            self.nav_links.append(str(attributes["href"]))
        elif tag == "link" and attributes.get("href"):
            self.assets.append(str(attributes["href"]))
        elif tag in ("script", "img") and attributes.get("src"):
            self.assets.append(str(attributes["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False


def collect_links(html: str) -> LinkCollector:
    collector = LinkCollector()
    collector.feed(html)
    return collector


def test_home_sends_an_anonymous_visitor_to_sign_in(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_the_sign_in_page_is_open_to_anonymous_visitors(client: Client, db: None) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'autocomplete="current-password"' in html
    # Nothing about the clinic's work is shown before signing in.
    assert collect_links(html).nav_links == []
    assert "Sign out" not in html


def test_an_empty_sign_in_form_says_what_is_missing(client: Client, db: None) -> None:
    response = client.post("/login/", {"username": "", "password": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Username: This field is required." in html
    assert "Password: This field is required." in html


def test_home_shows_the_clinic_the_user_and_a_way_out(pat_client: Client) -> None:
    response = pat_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Clinique des Tilleuls</h1>" in html
    assert "Signed in as </span><strong>Pat Practitioner</strong>, practitioner" in html
    assert re.search(r'<form class="account" method="post" action="/logout/">', html)
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main" tabindex="-1">' in html


STAFF_PAGES = {"/patients/", "/clinic/staff/", "/clinic/licences/"}


@pytest.mark.parametrize(
    ("person", "offered", "withheld"),
    [
        ("alice", {"/catalogue/"} | STAFF_PAGES, set()),
        ("pat", {"/catalogue/"} | STAFF_PAGES, set()),
        ("asha", {"/catalogue/"} | STAFF_PAGES, set()),
        ("rhea", {"/catalogue/"}, STAFF_PAGES),
    ],
)
def test_the_menu_offers_what_the_role_may_open_and_each_link_opens(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    person: str,
    offered: set[str],
    withheld: set[str],
) -> None:
    client = client_for(request.getfixturevalue(person))
    nav_links = set(collect_links(client.get("/").content.decode()).nav_links)
    assert offered <= nav_links
    assert not withheld & nav_links
    for href in nav_links:
        assert client.get(href).status_code == 200, href


def test_an_administrator_sees_the_licences_ending_soon(
    alice: User, pat: User, client_for: ClientFor
) -> None:
    licence(pat, "SOON-1", days_left=10)
    colleague = create_user("paz.practitioner", Role.PRACTITIONER, pat.clinic)
    licence(colleague, "LATER-1", days_left=200)

    html = client_for(alice).get("/").content.decode()

    assert "Licences to renew" in html
    assert "Expiring within 60 days" in html
    assert "SOON-1" in html
    assert "LATER-1" not in html
    assert 'href="/clinic/licences/"' in html


def test_no_licence_card_when_no_licence_needs_renewing(
    alice: User, pat: User, client_for: ClientFor
) -> None:
    licence(pat, "LATER-1", days_left=200)
    html = client_for(alice).get("/").content.decode()
    assert "Licences to renew" not in html


def test_the_licences_of_another_clinic_are_not_shown(
    alice: User, bob: User, client_for: ClientFor
) -> None:
    licence(bob, "HARBOUR-1", days_left=10)
    html = client_for(alice).get("/").content.decode()
    assert "HARBOUR-1" not in html


@pytest.mark.parametrize("person", ["pat", "asha", "rhea"])
def test_only_administrators_see_the_licence_card(
    request: pytest.FixtureRequest, pat: User, client_for: ClientFor, person: str
) -> None:
    licence(pat, "SOON-1", days_left=10)
    html = client_for(request.getfixturevalue(person)).get("/").content.decode()
    assert "Licences to renew" not in html
    assert "SOON-1" not in html


def test_a_researcher_is_told_they_see_only_aggregates(
    rhea: User, pat: User, client_for: ClientFor
) -> None:
    html = client_for(rhea).get("/").content.decode()
    assert "you see de-identified aggregates and the de-identified research export" in html
    # rhea works for the registry: no clinic of her own.
    assert "every clinic in the registry, never a patient" in html
    assert "de-identified aggregates" not in client_for(pat).get("/").content.decode()


def test_a_staff_member_who_has_not_proved_a_second_factor_is_sent_to_prove_it(
    pat: User, client: Client
) -> None:
    client.force_login(pat)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/account/two-factor/?next=/"
    # The page it sends them to is one they can open.
    assert client.get(response["Location"]).status_code == 200


def test_pages_load_nothing_from_other_origins(pat_client: Client) -> None:
    pages = {
        "sign-in page": Client().get("/login/"),
        "home page": pat_client.get("/"),
    }
    for name, response in pages.items():
        assets = collect_links(response.content.decode()).assets
        assert assets, name
        for url in assets:
            assert url.startswith("/static/"), f"the {name} loads {url}"


def test_the_stylesheet_is_served_with_a_far_future_cache(pat_client: Client) -> None:
    assets = collect_links(pat_client.get("/").content.decode()).assets
    (stylesheet,) = [url for url in assets if url.endswith(".css")]
    # The manifest storage names the file after its content, so it can be cached for good.
    assert re.fullmatch(r"/static/mesoclinic/app\.[0-9a-f]{12}\.css", stylesheet)

    response = pat_client.get(stylesheet)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "immutable" in response["Cache-Control"]
    assert b":focus-visible" in response.getvalue()


def test_health_answers_without_signing_in(client: Client, db: None) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"status": "ok"}
