"""The pages every person meets first, through Django's test client (no browser)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from mesoclinic.clinics.models import Clinic, Role, User


@pytest.fixture
def alice(db: None) -> User:
    clinic = Clinic.objects.create(name="Clinique du Parc", slug="parc")
    return get_user_model().objects.create_user(
        username="alice",
        password="correct horse battery staple",
        first_name="Alice",
        last_name="Martin",
        clinic=clinic,
        role=Role.PRACTITIONER,
    )


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


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


def test_home_shows_the_clinic_the_user_and_a_way_out(alice_client: Client) -> None:
    response = alice_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Clinique du Parc</h1>" in html
    assert "Signed in as </span><strong>Alice Martin</strong>, practitioner" in html
    assert re.search(r'<form class="account" method="post" action="/logout/">', html)
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main" tabindex="-1">' in html


def test_every_navigation_link_on_home_opens_a_page(alice_client: Client) -> None:
    nav_links = collect_links(alice_client.get("/").content.decode()).nav_links
    assert "/catalogue/" in nav_links
    for href in nav_links:
        assert alice_client.get(href).status_code == 200, href


def test_pages_load_nothing_from_other_origins(alice_client: Client) -> None:
    pages = {
        "sign-in page": Client().get("/login/"),
        "home page": alice_client.get("/"),
    }
    for name, response in pages.items():
        assets = collect_links(response.content.decode()).assets
        assert assets, name
        for url in assets:
            assert url.startswith("/static/"), f"the {name} loads {url}"


def test_the_stylesheet_is_served_with_a_far_future_cache(alice_client: Client) -> None:
    assets = collect_links(alice_client.get("/").content.decode()).assets
    (stylesheet,) = [url for url in assets if url.endswith(".css")]
    # The manifest storage names the file after its content, so it can be cached for good.
    assert re.fullmatch(r"/static/mesoclinic/app\.[0-9a-f]{12}\.css", stylesheet)

    response = alice_client.get(stylesheet)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "immutable" in response["Cache-Control"]
    assert b":focus-visible" in response.getvalue()


def test_health_answers_without_signing_in(client: Client, db: None) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"status": "ok"}
