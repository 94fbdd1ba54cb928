"""The catalogue's sections and the queries that list them, shared by the pages and the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from mesoclinic.catalogue.models import (
    BodyArea,
    DrugClass,
    DrugName,
    Indication,
    IngredientClass,
    OutcomeScale,
    PatientInformationPage,
    PreCareRule,
    Protocol,
    ScaleLevel,
    SideEffect,
)


def _filter(queryset: QuerySet[Any], include_retired: bool) -> QuerySet[Any]:
    return queryset if include_retired else queryset.filter(retired=False)


def indications(include_retired: bool = False) -> QuerySet[Indication]:
    return _filter(Indication.objects.select_related("primary_scale"), include_retired)


def body_areas(include_retired: bool = False) -> QuerySet[BodyArea]:
    return _filter(BodyArea.objects.select_related("parent"), include_retired)


def outcome_scales(include_retired: bool = False) -> QuerySet[OutcomeScale]:
    return _filter(OutcomeScale.objects.all(), include_retired).prefetch_related(
        Prefetch("levels", queryset=_filter(ScaleLevel.objects.all(), include_retired)),
        Prefetch("indications", queryset=_filter(Indication.objects.all(), include_retired)),
    )


def side_effects(include_retired: bool = False) -> QuerySet[SideEffect]:
    return _filter(SideEffect.objects.all(), include_retired)


def ingredient_classes(include_retired: bool = False) -> QuerySet[IngredientClass]:
    return _filter(IngredientClass.objects.all(), include_retired)


def drug_classes(include_retired: bool = False) -> QuerySet[DrugClass]:
    return _filter(DrugClass.objects.order_by("atc_code"), include_retired).prefetch_related(
        Prefetch("names", queryset=_filter(DrugName.objects.all(), include_retired))
    )


def precare_rules(include_retired: bool = False) -> QuerySet[PreCareRule]:
    return _filter(PreCareRule.objects.all(), include_retired).prefetch_related(
        Prefetch(
            "drug_classes",
            queryset=_filter(DrugClass.objects.order_by("atc_code"), include_retired),
        )
    )


def protocols(include_retired: bool = False) -> QuerySet[Protocol]:
    return _filter(Protocol.objects.all(), include_retired)


def patient_information(include_retired: bool = False) -> QuerySet[PatientInformationPage]:
    """Every page in every language, in reading order, a page's translations together."""
    return _filter(PatientInformationPage.objects.all(), include_retired)


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    summary: str
    entries: Callable[[], QuerySet[Any]]

    @property
    def template(self) -> str:
        return f"catalogue/{self.slug.replace('-', '_')}.html"


SECTIONS = (
    Section(
        "indications",
        "Indications",
        "What a course treats, the scale it is judged on and what the evidence shows.",
        indications,
    ),
    Section(
        "body-areas",
        "Body areas",
        "Where injections go, with SNOMED CT codes and their place on the body map.",
        body_areas,
    ),
    Section(
        "outcome-scales",
        "Outcome scales",
        "Scales and measures that outcomes are recorded on, with their ranges and levels.",
        outcome_scales,
    ),
    Section(
        "side-effects",
        "Side effects",
        "What a follow-up records, with the expected course and when a flag is raised.",
        side_effects,
    ),
    Section(
        "ingredient-classes",
        "Ingredient classes",
        "Kinds of substance that formulas are made of.",
        ingredient_classes,
    ),
    Section(
        "drug-classes",
        "Drug classes",
        "Drugs that screening recognises, by ATC code and by name.",
        drug_classes,
    ),
    Section(
        "precare-rules",
        "Pre-care rules",
        "Drugs patients avoid before a session, and what they are told.",
        precare_rules,
    ),
    Section(
        "protocols",
        "Protocols",
        "Course defaults that a course plan starts from.",
        protocols,
    ),
    Section(
        "patient-information",
        "Patient information",
        "Pages written for patients, in English and French, to review before the portal shows them.",
        patient_information,
    ),
)

SECTIONS_BY_SLUG = {section.slug: section for section in SECTIONS}
