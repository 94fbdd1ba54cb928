"""Read-only API of the catalogue, mounted at /api/v1/catalogue/.

Lists hold active entries; ``?include_retired=true`` adds retired ones, which records made
before an entry was retired may still point to. Decimal values are exact decimals, sent
as strings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Schema

from mesoclinic.catalogue import markup, sections
from mesoclinic.catalogue.models import (
    BodyArea,
    BodyMapView,
    Direction,
    DrugClass,
    DrugNameKind,
    Indication,
    IngredientClass,
    OutcomeScale,
    PageLanguage,
    PatientInformationPage,
    PreCareRule,
    Protocol,
    ScaleKind,
    SideEffect,
)

router = Router(tags=["catalogue"])


class EntryOut(Schema):
    code: str
    label: str
    description: str
    source: str
    retired: bool
    data_version: int


class IndicationOut(EntryOut):
    evidence_note: str
    primary_scale: str

    @staticmethod
    def resolve_primary_scale(obj: Indication) -> str:
        return obj.primary_scale.code


class BodyAreaOut(EntryOut):
    snomed_code: str
    parent: str | None
    view: BodyMapView
    paired: bool

    @staticmethod
    def resolve_parent(obj: BodyArea) -> str | None:
        return obj.parent.code if obj.parent else None


class ScaleLevelOut(Schema):
    value: Decimal
    label: str
    description: str
    retired: bool


class OutcomeScaleOut(EntryOut):
    kind: ScaleKind
    variant: str
    min_value: Decimal
    max_value: Decimal
    step: Decimal
    unit: str
    direction: Direction
    loinc_code: str
    minimal_important_difference: Decimal | None
    all_indications: bool
    indications: list[str]
    levels: list[ScaleLevelOut]

    @staticmethod
    def resolve_indications(obj: OutcomeScale) -> list[str]:
        return [indication.code for indication in obj.indications.all()]


class SideEffectOut(EntryOut):
    expected_course: str
    settles_within_hours: int | None
    always_flag: bool


class DrugNameOut(Schema):
    name: str
    normalised_name: str
    kind: DrugNameKind
    retired: bool


class DrugClassOut(EntryOut):
    atc_code: str
    bleeding_risk: bool
    names: list[DrugNameOut]


class PreCareRuleOut(EntryOut):
    window_days: int
    patient_message: str
    drug_classes: list[str]

    @staticmethod
    def resolve_drug_classes(obj: PreCareRule) -> list[str]:
        return [drug_class.code for drug_class in obj.drug_classes.all()]

    @staticmethod
    def resolve_patient_message(obj: PreCareRule) -> str:
        return obj.message_for()


class ProtocolOut(EntryOut):
    sessions_min: int
    sessions_max: int
    interval_days: int
    interval_tolerance_days: int
    session_minutes: int
    anaesthetic_cream_optional: bool
    maintenance_per_year_min: int
    maintenance_per_year_max: int


class BlockOut(Schema):
    kind: Literal["paragraph", "list"]
    text: str
    items: list[str]


class PatientInformationOut(Schema):
    code: str
    language: PageLanguage
    title: str
    summary: str
    body: str
    blocks: list[BlockOut]
    reviewed_on: date
    reviewed_by: str
    sources: list[str]
    retired: bool
    data_version: int

    @staticmethod
    def resolve_blocks(obj: PatientInformationPage) -> list[markup.Block]:
        """The body's paragraphs and lists, for a client that renders them itself."""
        return markup.parse(obj.body)


@router.get("/indications", response=list[IndicationOut])
def list_indications(request: HttpRequest, include_retired: bool = False) -> QuerySet[Indication]:
    return sections.indications(include_retired)


@router.get("/body-areas", response=list[BodyAreaOut])
def list_body_areas(request: HttpRequest, include_retired: bool = False) -> QuerySet[BodyArea]:
    return sections.body_areas(include_retired)


@router.get("/outcome-scales", response=list[OutcomeScaleOut])
def list_outcome_scales(
    request: HttpRequest, include_retired: bool = False
) -> QuerySet[OutcomeScale]:
    return sections.outcome_scales(include_retired)


@router.get("/side-effects", response=list[SideEffectOut])
def list_side_effects(request: HttpRequest, include_retired: bool = False) -> QuerySet[SideEffect]:
    return sections.side_effects(include_retired)


@router.get("/ingredient-classes", response=list[EntryOut])
def list_ingredient_classes(
    request: HttpRequest, include_retired: bool = False
) -> QuerySet[IngredientClass]:
    return sections.ingredient_classes(include_retired)


@router.get("/drug-classes", response=list[DrugClassOut])
def list_drug_classes(request: HttpRequest, include_retired: bool = False) -> QuerySet[DrugClass]:
    return sections.drug_classes(include_retired)


@router.get("/precare-rules", response=list[PreCareRuleOut])
def list_precare_rules(
    request: HttpRequest, include_retired: bool = False
) -> QuerySet[PreCareRule]:
    return sections.precare_rules(include_retired)


@router.get("/protocols", response=list[ProtocolOut])
def list_protocols(request: HttpRequest, include_retired: bool = False) -> QuerySet[Protocol]:
    return sections.protocols(include_retired)


@router.get("/patient-information", response=list[PatientInformationOut])
def list_patient_information(
    request: HttpRequest, include_retired: bool = False
) -> QuerySet[PatientInformationPage]:
    return sections.patient_information(include_retired)
