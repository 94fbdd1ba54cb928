"""The formula library and lot traceability over the API, mounted at /api/v1/formulas/.

Every operation declares its permission and fetches through the tenancy helpers: another
clinic's product, lot, formula, recall contact or patient named in the path is 404, and one
named in a body or a filter is refused the same way (422 in a body, 404 in a filter). Writes go
through ``formulas.services``, which refuse a wrong input with sentences (422) before changing
anything. Reads that name patients (a lot's trace, its recall contacts, a patient's allergens)
are audited.

Exact decimals (volumes in mL, concentrations, proportions in %) are returned as JSON strings
without trailing zeros ("2.5"). Send them as strings too; a JSON number is accepted and read
as its shortest decimal form, but only a string is certain to keep every digit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.http import Http404, HttpRequest
from ninja import Field, P, QueryEx, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import PlainSerializer

from mesoclinic.catalogue.models import BodyArea, Indication, IngredientClass, normalise_name
from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import invalid
from mesoclinic.clinics.models import AuditAction, Clinic
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.formulas import services
from mesoclinic.formulas.models import (
    ContactStatus,
    Formula,
    FormulaComponent,
    FormulaVersion,
    Ingredient,
    Lot,
    LotStatus,
    LotUse,
    Presentation,
    Product,
    ProductIngredient,
    RecallContact,
)
from mesoclinic.formulas.units import ConcentrationUnit
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import record_list_view

router = Router(tags=["formulas"])

INGREDIENTS, PRODUCTS, LOTS, FORMULAS = ["ingredients"], ["products"], ["lots"], ["formulas"]
MAX_EXPIRING_WITHIN = 36_500  # days: a hundred years, so that today + N stays a date
MAX_UNITS = 2**31 - 1  # the database's integer column
# PostgreSQL text cannot hold NUL; refused here, with the other input rules, not as a 500.
NO_NUL = r"^[^\x00]*$"

_DECIMAL_IN = ' An exact decimal, as a string ("2.5") or a JSON number.'


def _decimal_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


# Sent as a string so that no client reads a dose through a binary float.
DecimalOut = Annotated[Decimal, PlainSerializer(_decimal_text, return_type=str)]
# The precision of the columns they are stored in, so that a value is refused, not rounded.
VolumeIn = Annotated[Decimal, Field(max_digits=9, decimal_places=3)]
ConcentrationIn = Annotated[Decimal, Field(max_digits=14, decimal_places=6)]
ProportionIn = Annotated[Decimal, Field(max_digits=6, decimal_places=3)]
Text = Annotated[str, Field(pattern=NO_NUL)]


def _name(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length, pattern=NO_NUL)


# --- schemas ------------------------------------------------------------------------------


class IngredientIn(Schema):
    name: str = _name(200)
    ingredient_class: str = Field(
        max_length=64, pattern=NO_NUL, description="Code of a catalogue ingredient class."
    )
    synonyms: list[Annotated[Text, Field(max_length=200)]] = Field(
        [], description="Other names: INN, trade or common names."
    )
    needs_prescriber: bool = False


class IngredientOut(Schema):
    id: int
    name: str
    ingredient_class: str = Field(description="Code of its catalogue ingredient class.")
    synonyms: list[str]
    needs_prescriber: bool
    shared: bool = Field(description="True for the shared catalogue, false for the clinic's own.")

    @staticmethod
    def resolve_ingredient_class(obj: Ingredient) -> str:
        return obj.ingredient_class.code

    @staticmethod
    def resolve_shared(obj: Ingredient) -> bool:
        return obj.clinic_id is None


class ContentIn(Schema):
    ingredient_id: int = Field(description="A shared ingredient or one of the clinic's own.")
    concentration: ConcentrationIn = Field(description="As labelled." + _DECIMAL_IN)
    unit: ConcentrationUnit


class ContentOut(Schema):
    ingredient_id: int
    ingredient_name: str
    concentration: DecimalOut = Field(description="As labelled, an exact decimal string.")
    unit: ConcentrationUnit

    @staticmethod
    def resolve_ingredient_name(obj: ProductIngredient) -> str:
        return obj.ingredient.name


class ProductIn(Schema):
    name: str = _name(200)
    manufacturer: str = _name(200)
    presentation: Presentation
    volume_ml: VolumeIn = Field(description="Volume of one unit (vial, ampoule...)." + _DECIMAL_IN)
    regulatory_status: Text = ""
    multi_dose: bool = False
    contents: list[ContentIn] = []


class ProductOut(Schema):
    id: int
    name: str
    manufacturer: str
    presentation: Presentation
    volume_ml: DecimalOut = Field(description="Volume of one unit, an exact decimal string.")
    regulatory_status: str
    multi_dose: bool
    contents: list[ContentOut]

    @staticmethod
    def resolve_contents(obj: Product) -> list[ProductIngredient]:
        return list(obj.contents.all())


class LotIn(Schema):
    lot_number: str = _name(60)
    expiry_date: date = Field(description="Usable through this day, in the clinic's time.")
    received_on: date
    received_quantity: int = Field(ge=1, le=MAX_UNITS, description="Units received.")
    supplier: str = Field("", max_length=200, pattern=NO_NUL)
    storage_notes: Text = ""


class Usability(Schema):
    ok: bool
    reason: str = Field(description="Why not, when the lot may not be used.")


class LotOut(Schema):
    id: int
    product_id: int
    product_name: str
    lot_number: str
    expiry_date: date
    received_on: date
    received_quantity: int
    remaining_units: int
    supplier: str
    storage_notes: str
    opened_on: date | None
    status: LotStatus
    status_reason: str
    status_changed_by_id: int | None
    status_changed_at: datetime | None
    usable_today: Usability = Field(
        description="Whether the lot may go into a patient today, in the clinic's time."
    )


class LotStatusIn(Schema):
    action: Literal["quarantine", "recall", "release"] = Field(
        description="A recall is final and opens a contact task for every patient who "
        "received the lot; a release ends a quarantine."
    )
    reason: Text


class TraceRowOut(Schema):
    use_id: int
    patient_id: int
    patient_name: str
    used_on: datetime
    volume_ml: DecimalOut = Field(description="An exact decimal string.")
    units: int = Field(description="Units taken from stock for this use.")
    formula_version_id: int | None
    formula_version_number: int | None
    reference: str


class ContactOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    status: ContactStatus
    note: str
    created_at: datetime
    updated_by_id: int | None
    updated_at: datetime | None

    @staticmethod
    def resolve_patient_name(obj: RecallContact) -> str:
        return str(obj.patient)


class ContactIn(Schema):
    status: Literal["contacted", "unreachable"]
    note: Text = Field(description="What was said, or what was tried.")


class ComponentIn(Schema):
    """A product, or an ingredient with the concentration it is added at; by volume or by
    proportion of the total volume."""

    product_id: int | None = None
    ingredient_id: int | None = None
    concentration: ConcentrationIn | None = Field(
        None, description="For an ingredient only." + _DECIMAL_IN
    )
    unit: ConcentrationUnit | None = Field(None, description="For an ingredient only.")
    volume_ml: VolumeIn | None = Field(None, description="Or a proportion." + _DECIMAL_IN)
    proportion: ProportionIn | None = Field(
        None, description="Percent of the total volume, or a volume." + _DECIMAL_IN
    )


Codes = Annotated[
    list[Annotated[Text, Field(max_length=64)]], Field(description="Catalogue codes.")
]


class FormulaIn(Schema):
    name: str = _name(200)
    notes: Text = ""
    indications: Codes = []
    areas: Codes = []
    total_volume_ml: VolumeIn = Field(
        description="Volume of the mix; what the components leave is plain diluent." + _DECIMAL_IN
    )
    components: list[ComponentIn]
    version_notes: Text = ""


class FormulaDetailsIn(Schema):
    name: str = _name(200)
    notes: Text = ""
    indications: Codes = []
    areas: Codes = []


class FormulaOut(Schema):
    id: int
    name: str
    notes: str
    author_id: int
    author_name: str
    created_at: datetime
    indications: list[str] = Field(description="Catalogue indication codes.")
    areas: list[str] = Field(description="Catalogue body area codes.")
    current_version: int = Field(description="Number of the latest version.")

    @staticmethod
    def resolve_author_name(obj: Formula) -> str:
        return obj.author.get_full_name() or obj.author.username

    @staticmethod
    def resolve_indications(obj: Formula) -> list[str]:
        return [i.code for i in obj.indications.all()]

    @staticmethod
    def resolve_areas(obj: Formula) -> list[str]:
        return [a.code for a in obj.areas.all()]

    @staticmethod
    def resolve_current_version(obj: Formula) -> int:
        return obj.latest_version  # type: ignore[attr-defined, no-any-return]


class RecipeIn(Schema):
    components: list[ComponentIn]
    total_volume_ml: VolumeIn = Field(description="Volume of the mix." + _DECIMAL_IN)
    notes: Text | None = Field(None, description="The version's notes; omitted keeps them.")


class VersionOut(Schema):
    id: int
    number: int
    total_volume_ml: DecimalOut = Field(description="An exact decimal string.")
    notes: str
    created_at: datetime
    created_by_id: int
    used_at: datetime | None = Field(description="When first used; a used version never changes.")


class ComponentOut(Schema):
    position: int
    product_id: int | None
    ingredient_id: int | None
    name: str = Field(description="The product's or the ingredient's name.")
    concentration: DecimalOut | None = Field(
        description="For an ingredient: as added, an exact decimal string."
    )
    unit: ConcentrationUnit | None
    volume_ml: DecimalOut | None = Field(description="An exact decimal string.")
    proportion: DecimalOut | None = Field(
        description="Percent of the total volume, an exact decimal string."
    )

    @staticmethod
    def resolve_name(obj: FormulaComponent) -> str:
        what = obj.product or obj.ingredient
        return what.name if what is not None else ""

    @staticmethod
    def resolve_unit(obj: FormulaComponent) -> str | None:
        return obj.unit or None


class CompositionOut(Schema):
    ingredient_id: int
    ingredient_name: str
    concentration: DecimalOut = Field(description="In the final mix, an exact decimal string.")
    unit: ConcentrationUnit

    @staticmethod
    def resolve_ingredient_id(obj: services.CompositionLine) -> int:
        return obj.ingredient.pk

    @staticmethod
    def resolve_ingredient_name(obj: services.CompositionLine) -> str:
        return obj.ingredient.name


class VersionDetailOut(VersionOut):
    components: list[ComponentOut]
    composition: list[CompositionOut] = Field(
        description="Each ingredient's concentration in the final mix."
    )

    @staticmethod
    def resolve_components(obj: FormulaVersion) -> list[FormulaComponent]:
        return list(obj.components.select_related("product", "ingredient"))

    @staticmethod
    def resolve_composition(obj: FormulaVersion) -> list[services.CompositionLine]:
        return services.composition(obj)


class RecipeSaved(Schema):
    version: VersionDetailOut = Field(description="The version that now holds the recipe.")
    created: bool = Field(
        description="True when the current version had been used, so the recipe became a new "
        "version; false when it was edited in place or was unchanged."
    )


class AllergenOut(Schema):
    allergy_id: int
    substance: str = Field(description="The allergy as recorded.")
    ingredient_id: int
    ingredient_name: str
    matched_name: str = Field(description="The ingredient's name or synonym the allergy names.")


# --- helpers ------------------------------------------------------------------------------


def _clinic(request: HttpRequest) -> Clinic:
    clinic = signed_in_user(request).clinic
    assert clinic is not None  # staff, as every permission here requires
    return clinic


def _ingredient(clinic: Clinic, ingredient_id: int) -> Ingredient:
    # Looked up among those the clinic may use, so that another clinic's is not named back.
    ingredient = services.ingredients_for(clinic).filter(pk=ingredient_id).first()
    if ingredient is None:
        raise HttpError(422, f"No ingredient of this clinic has the id {ingredient_id}.")
    return ingredient


def _product(request: HttpRequest, product_id: int) -> Product:
    product = scoped(request, Product).filter(pk=product_id).first()
    if product is None:
        raise HttpError(422, f"No product of this clinic has the id {product_id}.")
    return product


E = TypeVar("E", Indication, BodyArea)


def _entries(
    model: type[E], codes: list[str], kind: str, kept: QuerySet[E] | None = None
) -> list[E]:
    """Active catalogue entries by code; a retired one only if the formula has it already."""
    wanted = list(dict.fromkeys(codes))
    allowed = {e.code: e for e in model.objects.filter(code__in=wanted, retired=False)}
    if kept is not None:
        allowed |= {e.code: e for e in kept.filter(code__in=wanted)}
    missing = [code for code in wanted if code not in allowed]
    if missing:
        raise HttpError(422, " ".join(f"No {kind} has the code {code!r}." for code in missing))
    return [allowed[code] for code in wanted]


def _specs(
    request: HttpRequest, clinic: Clinic, components: list[ComponentIn]
) -> list[services.ComponentSpec]:
    return [
        services.ComponentSpec(
            product=_product(request, c.product_id) if c.product_id is not None else None,
            ingredient=_ingredient(clinic, c.ingredient_id)
            if c.ingredient_id is not None
            else None,
            volume_ml=c.volume_ml,
            proportion=c.proportion,
            concentration=c.concentration,
            unit=c.unit or "",
        )
        for c in components
    ]


def _lot_out(lot: Lot, today: date) -> LotOut:
    check = services.lot_usable(lot, today)
    return LotOut(
        id=lot.pk,
        product_id=lot.product_id,
        product_name=lot.product.name,
        lot_number=lot.lot_number,
        expiry_date=lot.expiry_date,
        received_on=lot.received_on,
        received_quantity=lot.received_quantity,
        remaining_units=lot.remaining_units,
        supplier=lot.supplier,
        storage_notes=lot.storage_notes,
        opened_on=lot.opened_on,
        status=LotStatus(lot.status),
        status_reason=lot.status_reason,
        status_changed_by_id=lot.status_changed_by_id,
        status_changed_at=lot.status_changed_at,
        usable_today=Usability(ok=check.ok, reason=check.reason),
    )


def _formulas(request: HttpRequest) -> QuerySet[Formula]:
    return (
        scoped(request, Formula)
        .select_related("author")
        .prefetch_related("indications", "areas")
        .annotate(latest_version=Max("versions__number"))
    )


def _formula(request: HttpRequest, formula_id: int) -> Formula:
    """The formula as ``FormulaOut`` shows it, or 404."""
    formula = _formulas(request).filter(pk=formula_id).first()
    if formula is None:
        raise Http404("No formula found.")
    return formula


def _version(request: HttpRequest, formula_id: int, version_number: int) -> FormulaVersion:
    # The formula first, by its primary key: Django answers an id out of the database's range
    # with "not found" there, but passes it on to SQLite through a foreign key (a 500).
    formula = get_scoped_or_404(request, Formula, pk=formula_id)
    return get_scoped_or_404(request, FormulaVersion, formula=formula, number=version_number)


# --- ingredients --------------------------------------------------------------------------


@router.get("/ingredients", response=list[IngredientOut], tags=INGREDIENTS, summary="Ingredients")
@api_requires(Perm.FORMULA_VIEW)
def list_ingredients(request: HttpRequest, q: str = "") -> list[Ingredient]:
    """The shared catalogue and the clinic's own. ``q``: part of a name or of a synonym,
    compared without case or accents."""
    ingredients = services.ingredients_for(_clinic(request)).select_related("ingredient_class")
    wanted = normalise_name(q)
    return [i for i in ingredients if any(wanted in name for name in i.normalised_names)]


@router.post(
    "/ingredients",
    response={201: IngredientOut},
    tags=INGREDIENTS,
    summary="Add an ingredient of the clinic",
)
@api_requires(Perm.STOCK_MANAGE)
def create_ingredient(request: HttpRequest, payload: IngredientIn) -> Status[Ingredient]:
    """Refused when its name or a synonym is already a name of a shared or clinic ingredient,
    so that allergy matching sees one ingredient under one name."""
    ingredient_class = IngredientClass.objects.filter(
        code=payload.ingredient_class, retired=False
    ).first()
    if ingredient_class is None:
        raise HttpError(422, f"No ingredient class has the code {payload.ingredient_class!r}.")
    try:
        ingredient = services.add_ingredient(
            clinic=_clinic(request),
            name=payload.name,
            ingredient_class=ingredient_class,
            synonyms=payload.synonyms,
            needs_prescriber=payload.needs_prescriber,
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, ingredient)


# --- products -----------------------------------------------------------------------------


@router.get("/products", response=list[ProductOut], tags=PRODUCTS, summary="Products")
@api_requires(Perm.FORMULA_VIEW)
def list_products(request: HttpRequest) -> list[Product]:
    return list(scoped(request, Product).prefetch_related("contents__ingredient"))


@router.post("/products", response={201: ProductOut}, tags=PRODUCTS, summary="Add a product")
@api_requires(Perm.STOCK_MANAGE)
def create_product(request: HttpRequest, payload: ProductIn) -> Status[Product]:
    clinic = _clinic(request)
    contents = [
        services.Content(_ingredient(clinic, c.ingredient_id), c.concentration, c.unit)
        for c in payload.contents
    ]
    try:
        product = services.create_product(
            clinic=clinic,
            **payload.dict(exclude={"contents"}),
            contents=contents,
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, product)


@router.get("/products/{product_id}", response=ProductOut, tags=PRODUCTS, summary="A product")
@api_requires(Perm.FORMULA_VIEW)
def get_product(request: HttpRequest, product_id: int) -> Product:
    return get_scoped_or_404(request, Product, pk=product_id)


@router.post(
    "/products/{product_id}/lots",
    response={201: LotOut},
    tags=LOTS,
    summary="Receive a lot of a product",
)
@api_requires(Perm.STOCK_MANAGE)
def receive_lot(request: HttpRequest, product_id: int, payload: LotIn) -> Status[LotOut]:
    product = get_scoped_or_404(request, Product, pk=product_id)
    try:
        lot = services.receive_lot(
            product=product, **payload.dict(), actor=signed_in_user(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _lot_out(lot, _clinic(request).today()))


# --- lots ---------------------------------------------------------------------------------


@router.get(
    "/lots",
    response=list[LotOut],
    tags=LOTS,
    summary="Lots",
    openapi_extra={"responses": {"404": {"description": "No product of the clinic has this id."}}},
)
@api_requires(Perm.FORMULA_VIEW)
def list_lots(
    request: HttpRequest,
    product_id: int | None = None,
    status: LotStatus | None = None,
    expiring_within_days: QueryEx[int | None, P(ge=0, le=MAX_EXPIRING_WITHIN)] = None,
) -> list[LotOut]:
    """In order of expiry, whatever their status. ``product_id``: the lots of that product;
    ``expiring_within_days``: those expiring between today and that many days from today, in
    the clinic's time zone."""
    today = _clinic(request).today()
    lots = scoped(request, Lot).select_related("product")
    if product_id is not None:
        lots = lots.filter(product=get_scoped_or_404(request, Product, pk=product_id))
    if status is not None:
        lots = lots.filter(status=status)
    if expiring_within_days is not None:
        lots = lots.filter(
            expiry_date__gte=today, expiry_date__lte=today + timedelta(days=expiring_within_days)
        )
    return [_lot_out(lot, today) for lot in lots]


@router.get("/lots/{lot_id}", response=LotOut, tags=LOTS, summary="A lot")
@api_requires(Perm.FORMULA_VIEW)
def get_lot(request: HttpRequest, lot_id: int) -> LotOut:
    return _lot_out(get_scoped_or_404(request, Lot, pk=lot_id), _clinic(request).today())


_STATUS_CHANGES = {
    "quarantine": services.quarantine_lot,
    "recall": services.recall_lot,
    "release": services.release_lot,
}


@router.post(
    "/lots/{lot_id}/status",
    response=LotOut,
    tags=LOTS,
    summary="Quarantine, recall or release a lot",
)
@api_requires(Perm.LOT_STATUS)
def change_lot_status(request: HttpRequest, lot_id: int, payload: LotStatusIn) -> LotOut:
    lot = get_scoped_or_404(request, Lot, pk=lot_id)
    change = _STATUS_CHANGES[payload.action]
    try:
        lot = change(lot, payload.reason, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return _lot_out(lot, _clinic(request).today())


@router.get(
    "/lots/{lot_id}/trace",
    response=list[TraceRowOut],
    tags=LOTS,
    summary="Who received a lot",
    description="Every use of the lot, oldest first, with the patient. The read is audited.",
)
@api_requires(Perm.LOT_TRACE)
def trace_lot(request: HttpRequest, lot_id: int) -> list[TraceRowOut]:
    lot = get_scoped_or_404(request, Lot, pk=lot_id)
    return [_trace_row(use) for use in services.open_trace(lot, request=request)]


def _trace_row(use: LotUse) -> TraceRowOut:
    version = use.formula_version
    return TraceRowOut(
        use_id=use.pk,
        patient_id=use.patient_id,
        patient_name=str(use.patient),
        used_on=use.used_on,
        volume_ml=use.volume_ml,
        units=use.units,
        formula_version_id=version.pk if version else None,
        formula_version_number=version.number if version else None,
        reference=use.reference,
    )


@router.get(
    "/lots/{lot_id}/contacts",
    response=list[ContactOut],
    tags=LOTS,
    summary="A recall's contact tasks",
    description="One per patient who received the recalled lot. The read is audited.",
)
@api_requires(Perm.LOT_TRACE)
def list_contacts(request: HttpRequest, lot_id: int) -> list[RecallContact]:
    lot = get_scoped_or_404(request, Lot, pk=lot_id)
    contacts = list(services.recall_contacts(lot))
    record_list_view(request, [contact.patient for contact in contacts])
    return contacts


@router.post(
    "/lots/{lot_id}/contacts/{contact_id}",
    response=ContactOut,
    tags=LOTS,
    summary="Record how contacting a patient went",
)
@api_requires(Perm.LOT_TRACE)
def record_contact(
    request: HttpRequest, lot_id: int, contact_id: int, payload: ContactIn
) -> RecallContact:
    lot = get_scoped_or_404(request, Lot, pk=lot_id)  # by primary key, as in _version
    contact = get_scoped_or_404(request, RecallContact, pk=contact_id, lot=lot)
    try:
        return services.record_contact(
            contact,
            status=payload.status,
            note=payload.note,
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None


# --- formulas -----------------------------------------------------------------------------


@router.get("/formulas", response=list[FormulaOut], tags=FORMULAS, summary="Formulas")
@api_requires(Perm.FORMULA_VIEW)
def list_formulas(
    request: HttpRequest, indication: QueryEx[str | None, P(pattern=NO_NUL)] = None
) -> list[Formula]:
    """``indication``: only formulas meant for the catalogue indication of this code."""
    formulas = _formulas(request)
    if indication is not None:
        entry = Indication.objects.filter(code=indication).first()
        if entry is None:
            raise HttpError(422, f"No indication has the code {indication!r}.")
        formulas = formulas.filter(indications=entry)
    return list(formulas)


@router.post("/formulas", response={201: FormulaOut}, tags=FORMULAS, summary="Write a formula")
@api_requires(Perm.FORMULA_EDIT)
def create_formula(request: HttpRequest, payload: FormulaIn) -> Status[Formula]:
    """The formula and its version 1."""
    clinic = _clinic(request)
    user = signed_in_user(request)
    indications = _entries(Indication, payload.indications, "indication")
    areas = _entries(BodyArea, payload.areas, "body area")
    components = _specs(request, clinic, payload.components)
    try:
        formula = services.create_formula(
            clinic=clinic,
            name=payload.name,
            author=user,
            components=components,
            total_volume_ml=payload.total_volume_ml,
            indications=indications,
            areas=areas,
            notes=payload.notes,
            version_notes=payload.version_notes,
            actor=user,
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _formula(request, formula.pk))


@router.get("/formulas/{formula_id}", response=FormulaOut, tags=FORMULAS, summary="A formula")
@api_requires(Perm.FORMULA_VIEW)
def get_formula(request: HttpRequest, formula_id: int) -> Formula:
    return _formula(request, formula_id)


@router.put(
    "/formulas/{formula_id}",
    response=FormulaOut,
    tags=FORMULAS,
    summary="Rename a formula or change what it is for",
    description="Name, notes, indications and areas describe the formula, not a recipe: they "
    "change in place, and the formula's history keeps the earlier values.",
)
@api_requires(Perm.FORMULA_EDIT)
def update_formula(request: HttpRequest, formula_id: int, payload: FormulaDetailsIn) -> Formula:
    formula = _formula(request, formula_id)
    try:
        services.update_formula_details(
            formula,
            name=payload.name,
            notes=payload.notes,
            # A retired entry the formula already has may stay on it.
            indications=_entries(
                Indication, payload.indications, "indication", formula.indications.all()
            ),
            areas=_entries(BodyArea, payload.areas, "body area", formula.areas.all()),
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    # Read again: the indications and areas prefetched above have changed.
    return _formula(request, formula_id)


@router.put(
    "/formulas/{formula_id}/recipe",
    response=RecipeSaved,
    tags=FORMULAS,
    summary="Save a formula's recipe",
    description="Edits the current version in place while no patient has received it; once "
    "one has, the recipe becomes the next version and the used one stays as it was. An "
    "unchanged recipe saves nothing.",
)
@api_requires(Perm.FORMULA_EDIT)
def save_recipe(request: HttpRequest, formula_id: int, payload: RecipeIn) -> dict[str, Any]:
    formula = get_scoped_or_404(request, Formula, pk=formula_id)
    components = _specs(request, _clinic(request), payload.components)
    try:
        with transaction.atomic():
            # Locked as the service locks it, so that the version it edits or follows is the
            # one read here, and "created" cannot be another editor's new version.
            Formula.objects.select_for_update().get(pk=formula.pk)
            before = formula.current_version
            version = services.save_formula_edit(
                formula,
                components,
                signed_in_user(request),
                total_volume_ml=payload.total_volume_ml,
                notes=payload.notes,
                request=request,
            )
    except ValidationError as error:
        raise invalid(error) from None
    return {"version": version, "created": version.pk != before.pk}


@router.get(
    "/formulas/{formula_id}/versions",
    response=list[VersionOut],
    tags=FORMULAS,
    summary="A formula's versions",
)
@api_requires(Perm.FORMULA_VIEW)
def list_versions(request: HttpRequest, formula_id: int) -> list[FormulaVersion]:
    formula = get_scoped_or_404(request, Formula, pk=formula_id)
    return list(formula.versions.order_by("number"))


@router.get(
    "/formulas/{formula_id}/versions/{version_number}",
    response=VersionDetailOut,
    tags=FORMULAS,
    summary="A version of a formula",
    description="Its components as entered, and what the mix contains in total.",
)
@api_requires(Perm.FORMULA_VIEW)
def get_version(request: HttpRequest, formula_id: int, version_number: int) -> FormulaVersion:
    return _version(request, formula_id, version_number)


@router.get(
    "/formulas/{formula_id}/versions/{version_number}/allergens",
    response=list[AllergenOut],
    tags=FORMULAS,
    summary="A patient's allergies that name an ingredient of a version",
    description="Compared by name and synonym, without case or accents; the patient's record "
    "is read, so the call is audited. Screening decides what a match blocks.",
)
@api_requires(Perm.FORMULA_VIEW)
def allergens(
    request: HttpRequest, formula_id: int, version_number: int, patient_id: int
) -> list[AllergenOut]:
    version = _version(request, formula_id, version_number)
    patient = get_scoped_or_404(request, Patient, pk=patient_id)
    matches = services.allergens_for(patient, version)
    audit.record(AuditAction.VIEW, request=request, obj=patient, formula_version_id=version.pk)
    return [
        AllergenOut(
            allergy_id=match.allergy.pk,
            substance=match.allergy.substance,
            ingredient_id=match.ingredient.pk,
            ingredient_name=match.ingredient.name,
            matched_name=match.matched_name,
        )
        for match in matches
    ]
