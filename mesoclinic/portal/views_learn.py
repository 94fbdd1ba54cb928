"""Knowledge pages: the catalogue's patient information pages in the patient's language, in
their reading order, each with who reviewed it and when.

A page missing in the patient's language is shown in English and says so. The pages are the
same for every patient and hold nothing of the record, so reading them is not audited; they
are still for signed-in patients only."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from mesoclinic.catalogue.models import PageLanguage, PatientInformationPage
from mesoclinic.portal.access import patient_view

FALLBACK = PageLanguage.ENGLISH.value
# How the catalogue marks a page written by the developers and not yet checked clinically
# (``reviewed_by`` of patient_information.toml).
DRAFT_MARK = "not yet checked by a clinician"


@dataclass(frozen=True)
class ShownPage:
    """A page as a patient reading ``asked`` sees it."""

    page: PatientInformationPage
    asked: str

    @property
    def fallback(self) -> bool:
        """Shown in English because the page is not written in the patient's language."""
        return self.page.language != self.asked

    @property
    def draft(self) -> bool:
        return DRAFT_MARK in self.page.reviewed_by


def page_language(language: str | None) -> str:
    """The pages' language for the interface's ``language`` ("fr-ca" reads "fr")."""
    code = (language or "").split("-")[0].lower()
    return code if code in PageLanguage.values else FALLBACK


def pages_in(language: str | None) -> list[ShownPage]:
    """Every page in reading order, each in ``language`` or else in English."""
    asked = page_language(language)
    chosen: dict[str, PatientInformationPage] = {}
    for page in PatientInformationPage.objects.filter(
        retired=False, language__in={asked, FALLBACK}
    ).order_by("position", "code"):
        if page.code not in chosen or page.language == asked:
            chosen[page.code] = page
    ordered = sorted(chosen.values(), key=lambda page: (page.position, page.code))
    return [ShownPage(page, asked) for page in ordered]


def page_in(code: str, language: str | None) -> ShownPage | None:
    """The page ``code`` in ``language`` or else in English; None for no such page."""
    return next((shown for shown in pages_in(language) if shown.page.code == code), None)


def _language(request: HttpRequest) -> str:
    # patient_view sets it; the active translation says the same.
    return getattr(request, "LANGUAGE_CODE", None) or translation.get_language()


@patient_view
@require_GET
def learn(request: HttpRequest) -> HttpResponse:
    pages = pages_in(_language(request))
    return render(
        request,
        "portal/learn/index.html",
        {
            "pages": pages,
            "any_fallback": any(shown.fallback for shown in pages),
            "portal_section": "learn",
        },
    )


@patient_view
@require_GET
def learn_page(request: HttpRequest, code: str) -> HttpResponse:
    pages = pages_in(_language(request))
    index = next((i for i, shown in enumerate(pages) if shown.page.code == code), None)
    if index is None:
        raise Http404("No such page.")
    return render(
        request,
        "portal/learn/page.html",
        {
            "shown": pages[index],
            "page": pages[index].page,
            "previous": pages[index - 1] if index > 0 else None,
            "next": pages[index + 1] if index + 1 < len(pages) else None,
            "portal_section": "learn",
        },
    )
