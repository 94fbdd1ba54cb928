from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.catalogue.loader import LoadReport
from mesoclinic.catalogue.models import Indication
from mesoclinic.catalogue.sections import SECTIONS


def test_the_index_lists_each_section_with_its_count(
    catalogue: LoadReport, alice_client: Client
) -> None:
    response = alice_client.get(reverse("catalogue:index"))

    assert response.status_code == 200
    page = response.content.decode()
    for section in SECTIONS:
        assert reverse("catalogue:section", args=[section.slug]) in page
        assert section.title in page
    counts = dict((section.slug, count) for section, count in response.context["sections"])
    assert counts["indications"] == 10
    assert counts["side-effects"] == 12
    assert "indications.toml" in page


def test_the_index_says_when_nothing_is_loaded(alice_client: Client) -> None:
    response = alice_client.get(reverse("catalogue:index"))

    assert "has not been loaded yet" in response.content.decode()


@pytest.mark.parametrize("slug", [section.slug for section in SECTIONS])
def test_each_section_page_renders(catalogue: LoadReport, alice_client: Client, slug: str) -> None:
    response = alice_client.get(reverse("catalogue:section", args=[slug]))

    assert response.status_code == 200
    assert "<table>" in response.content.decode()


def test_the_indications_page_shows_every_indication(
    catalogue: LoadReport, alice_client: Client
) -> None:
    response = alice_client.get(reverse("catalogue:section", args=["indications"]))

    page = response.content.decode()
    for indication in Indication.objects.all():
        assert indication.label in page
    assert "Hexsel Cellulite Severity Scale" in page
    assert "little evidence" in page


def test_retired_entries_are_left_out(catalogue: LoadReport, alice_client: Client) -> None:
    Indication.objects.filter(code="cellulite").update(retired=True)

    response = alice_client.get(reverse("catalogue:section", args=["indications"]))

    assert 'id="cellulite"' not in response.content.decode()


def test_an_unknown_section_is_not_found(alice_client: Client) -> None:
    response = alice_client.get("/catalogue/nothing-here/")

    assert response.status_code == 404


@pytest.mark.parametrize("url", ["/catalogue/", "/catalogue/indications/"])
def test_anonymous_visitors_are_sent_to_sign_in(db: None, client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
