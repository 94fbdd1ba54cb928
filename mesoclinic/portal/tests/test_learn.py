"""Knowledge pages: the catalogue's patient information pages in the patient's language (the
switch's cookie, else the record's preferred language), in reading order, in English where
a page lacks the language and saying so, each with who reviewed it and when; the text is
escaped whatever the database holds; for signed-in patients only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from mesoclinic.catalogue.models import PatientInformationPage
from mesoclinic.clinics.models import User
from mesoclinic.patients.models import Patient
from mesoclinic.portal import views_learn
from mesoclinic.portal.testing import portal_client

LEARN = reverse("portal:learn")
DRAFT_LINE = (
    "This page is a draft written by the mesoclinic developers. A clinician has not checked "
    "it yet. Last updated on 26 November 2026."
)


def page_url(code: str) -> str:
    return reverse("portal:learn-page", kwargs={"code": code})


def titles(language: str) -> list[str]:
    return list(
        PatientInformationPage.objects.filter(language=language, retired=False)
        .order_by("position")
        .values_list("title", flat=True)
    )


def escaped(text: str) -> str:
    return text.replace("'", "&#x27;")


def in_order(html: str, texts: list[str]) -> bool:
    places = [html.find(escaped(text)) for text in texts]
    return all(place >= 0 for place in places) and places == sorted(places)


@pytest.fixture
def pages(catalogue: None) -> None:
    """The catalogue's nine pages, each in English and French."""


# --- the functions ----------------------------------------------------------------------------


def test_the_language_of_the_pages_follows_the_interface(pages: None) -> None:
    assert views_learn.page_language("fr") == "fr"
    assert views_learn.page_language("fr-ca") == "fr"
    assert views_learn.page_language("de") == "en"
    assert views_learn.page_language(None) == "en"

    french = views_learn.pages_in("fr")
    assert [shown.page.title for shown in french] == titles("fr")
    assert {shown.page.language for shown in french} == {"fr"}
    assert not any(shown.fallback for shown in french)
    assert all(shown.draft for shown in french)
    assert [s.page.code for s in french] == [s.page.code for s in views_learn.pages_in("en")]


def test_a_page_missing_in_french_falls_back_to_english(pages: None) -> None:
    PatientInformationPage.objects.filter(code="during-a-session", language="fr").update(
        retired=True
    )

    shown = views_learn.page_in("during-a-session", "fr")

    assert shown is not None and shown.page.language == "en" and shown.fallback
    codes = [s.page.code for s in views_learn.pages_in("fr")]
    assert codes.count("during-a-session") == 1
    assert views_learn.page_in("no-such-page", "fr") is None


# --- the list ---------------------------------------------------------------------------------


def test_the_list_in_english_in_reading_order(pages: None, portal: Client) -> None:
    response = portal.get(LEARN)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert in_order(html, titles("en"))
    assert not any(escape_title in html for escape_title in map(escaped, titles("fr")))
    first = PatientInformationPage.objects.get(code="what-is-mesotherapy", language="en")
    assert f'href="{page_url(first.code)}"' in html
    assert escaped(first.summary) in html
    assert 'aria-current="page"' in html and "shown in English" not in html


def test_the_list_in_french_by_the_language_cookie(pages: None, portal: Client) -> None:
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    response = portal.get(LEARN)

    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert response["Content-Language"] == "fr"
    assert in_order(html, titles("fr"))
    assert escaped("Qu'est-ce que la mésothérapie ?") in html
    assert escaped("What is mesotherapy?") not in html


def test_the_list_in_french_by_the_patients_preferred_language(
    pages: None, client: Client, patient: Patient, patient_user: User
) -> None:
    patient.preferred_language = "fr"
    patient.save(update_fields=["preferred_language"])
    french = portal_client(client, patient)

    html = french.get(LEARN).content.decode()
    assert '<html lang="fr">' in html and in_order(html, titles("fr"))

    # The switch's cookie wins over the record.
    french.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = french.get(LEARN).content.decode()
    assert '<html lang="en">' in html and in_order(html, titles("en"))


def test_the_list_says_which_pages_are_in_english(pages: None, portal: Client) -> None:
    PatientInformationPage.objects.filter(code="during-a-session", language="fr").update(
        retired=True
    )
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    html = portal.get(LEARN).content.decode()

    english = PatientInformationPage.objects.get(code="during-a-session", language="en")
    assert "Elles sont affichées en anglais." in html
    assert f'<li lang="en">\n    <a href="{page_url("during-a-session")}">' in html
    assert escaped(english.title) in html
    # The others stay in French, in their order.
    assert in_order(html, [titles("fr")[0], english.title, titles("fr")[-1]])


# --- one page ---------------------------------------------------------------------------------


def test_a_page_with_its_markup_and_the_draft_line(pages: None, portal: Client) -> None:
    page = PatientInformationPage.objects.get(code="during-a-session", language="en")

    response = portal.get(page_url(page.code))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1 and f"<h1>{escaped(page.title)}</h1>" in html
    assert "<li>6 to 8 sessions</li>" in html  # the markup, rendered
    assert DRAFT_LINE in html
    assert "Reviewed by" not in html
    # Reading on: the pages before and after this one, and the list.
    ordered = views_learn.pages_in("en")
    index = [s.page.code for s in ordered].index(page.code)
    assert f'href="{page_url(ordered[index - 1].page.code)}"' in html
    assert f'href="{page_url(ordered[index + 1].page.code)}"' in html
    assert f'href="{LEARN}"' in html


def test_a_page_in_french(pages: None, portal: Client) -> None:
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    html = portal.get(page_url("during-a-session")).content.decode()

    assert '<html lang="fr">' in html
    assert "<li>6 à 8 séances</li>" in html
    assert "26 novembre 2026" in html  # the date in the reader's language
    assert "shown in English" not in html


def test_a_page_missing_in_french_says_it_is_in_english(pages: None, portal: Client) -> None:
    PatientInformationPage.objects.filter(code="during-a-session", language="fr").update(
        retired=True
    )
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    response = portal.get(page_url("during-a-session"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "elle est donc affichée en anglais." in html
    assert '<article class="learn-page" lang="en">' in html
    assert "<li>6 to 8 sessions</li>" in html


def test_a_reviewed_page_names_its_reviewer_and_date(pages: None, portal: Client) -> None:
    PatientInformationPage.objects.filter(code="during-a-session", language="en").update(
        reviewed_by="Dr Léa Martin, dermatologist", reviewed_on=date(2027, 1, 15)
    )

    html = portal.get(page_url("during-a-session")).content.decode()

    assert "Reviewed by Dr Léa Martin, dermatologist on 15 January 2027." in html
    assert "A clinician has not checked it yet" not in html


def test_the_page_escapes_whatever_the_database_holds(pages: None, portal: Client) -> None:
    # The loader refuses "<", but the portal must not rely on it.
    PatientInformationPage.objects.filter(code="what-is-mesotherapy", language="en").update(
        title="<i>Title</i>",
        summary="<em>summary</em>",
        body="<script>alert(1)</script>\n\n- <b>item</b>",
        reviewed_by="<u>someone</u>",
    )

    for url in (page_url("what-is-mesotherapy"), LEARN):
        html = portal.get(url).content.decode()
        for raw in ("<script>alert", "<i>", "<b>", "<u>", "<em>"):
            assert raw not in html
        assert "&lt;i&gt;Title&lt;/i&gt;" in html
    html = portal.get(page_url("what-is-mesotherapy")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<li>&lt;b&gt;item&lt;/b&gt;</li>" in html
    assert "Reviewed by &lt;u&gt;someone&lt;/u&gt; on" in html


def test_an_unknown_or_retired_page_is_not_found(pages: None, portal: Client) -> None:
    assert portal.get(page_url("no-such-page")).status_code == 404
    PatientInformationPage.objects.filter(code="hair-loss-evidence").update(retired=True)
    assert portal.get(page_url("hair-loss-evidence")).status_code == 404
    listed = portal.get(LEARN)
    assert listed.status_code == 200
    assert page_url("hair-loss-evidence") not in listed.content.decode()
    assert page_url("what-is-mesotherapy") in listed.content.decode()


def test_the_urls_are_stable() -> None:
    assert LEARN == "/portal/learn/"
    assert page_url("before-a-session") == "/portal/learn/before-a-session/"


# --- who may read -----------------------------------------------------------------------------

URLS = [LEARN, page_url("what-is-mesotherapy")]


@pytest.mark.parametrize("url", URLS)
def test_anonymous_visitors_are_sent_to_the_portal_sign_in(
    pages: None, client: Client, url: str
) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("name", ["alice", "pat", "asha", "bob"])
def test_staff_are_refused(
    pages: None,
    client_for: Callable[[User], Client],
    request: pytest.FixtureRequest,
    name: str,
    url: str,
) -> None:
    assert client_for(request.getfixturevalue(name)).get(url).status_code == 403


@pytest.mark.parametrize("url", URLS)
def test_every_patient_reads_the_same_pages_and_only_by_get(
    pages: None, portal: Client, other_portal: Client, url: str
) -> None:
    assert other_portal.get(url).status_code == 200
    assert portal.post(url).status_code == 405
