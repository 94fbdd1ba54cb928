"""The formula library and lot traceability, as plain functions that views, the API and later
apps (the treatment chart, screening, evidence) call.

Writes validate everything first and raise ``ValidationError`` with messages before touching
the database, so a refused input changes nothing. Writes that touch lot stock or a formula's
current version lock the row they change, for the reason given at each lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, IngredientClass, normalise_name
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Clinic, User
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
from mesoclinic.formulas.units import (
    ConcentrationUnit,
    is_mass_unit,
    to_mg_per_ml,
    validate_concentration,
    validate_proportion,
    validate_volume,
)
from mesoclinic.patients.models import Allergy, Patient

if TYPE_CHECKING:
    from mesoclinic.evidence.models import AlertContact

# The contact tasks ``update_contact`` records on. They share their status, note and
# updated_by/at fields but no base class; a Protocol cannot say "a model with these fields"
# (``audit.record`` takes a model), so the TypeVar names the two models, the outbreak alert's
# for type checking only (evidence builds on formulas, not the other way round).
ContactTask = TypeVar("ContactTask", RecallContact, "AlertContact")

# Component volumes may exceed the total by rounding (three thirds of 1 mL) but by no more.
VOLUME_TOLERANCE_ML = Decimal("0.001")
# Significant digits of a computed concentration: more would be false precision.
SIGNIFICANT_DIGITS = 6


def _messages(error: ValidationError) -> list[str]:
    return list(error.messages)


# --- ingredients and products -------------------------------------------------------------


def ingredients_for(clinic: Clinic | int) -> QuerySet[Ingredient]:
    """The ingredients a clinic may use: the shared catalogue and its own."""
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    return Ingredient.objects.filter(Q(clinic__isnull=True) | Q(clinic_id=clinic_id))


def _check_ingredient_visible(ingredient: Ingredient, clinic_id: int, label: str) -> None:
    if ingredient.clinic_id is not None and ingredient.clinic_id != clinic_id:
        raise ValidationError(f"{label}: {ingredient.name} is not an ingredient of this clinic.")


def add_ingredient(
    *,
    clinic: Clinic | None,
    name: str,
    ingredient_class: IngredientClass,
    synonyms: Iterable[str] = (),
    needs_prescriber: bool = False,
    actor: User | None,
    request: HttpRequest | None = None,
) -> Ingredient:
    """Add a shared ingredient (``clinic`` None) or one of a clinic. A clinic may not add a
    name, or a synonym, that the shared catalogue already has, so that allergy matching sees
    one ingredient under one name."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("An ingredient needs a name.")
    cleaned_synonyms = list(dict.fromkeys(" ".join(s.split()) for s in synonyms if s.strip()))
    taken = ingredients_for(clinic.pk) if clinic is not None else Ingredient.objects.all()
    if clinic is None:
        taken = taken.filter(clinic__isnull=True)
    wanted = {normalise_name(name)} | {normalise_name(s) for s in cleaned_synonyms}
    for other in taken:
        clash = wanted & other.normalised_names
        if clash:
            raise ValidationError(
                f"{sorted(clash)[0]!r} is already a name of the ingredient {other.name}."
            )
    ingredient = Ingredient(
        clinic=clinic,
        name=name,
        ingredient_class=ingredient_class,
        synonyms=cleaned_synonyms,
        needs_prescriber=needs_prescriber,
    )
    with transaction.atomic():
        ingredient.save()
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=ingredient,
            clinic_id=clinic.pk if clinic else None,
        )
    return ingredient


@dataclass(frozen=True)
class Content:
    """An ingredient of a product at its labelled concentration, as entered."""

    ingredient: Ingredient
    concentration: Decimal
    unit: str


def create_product(
    *,
    clinic: Clinic,
    name: str,
    manufacturer: str,
    presentation: str,
    volume_ml: Decimal,
    contents: Sequence[Content],
    regulatory_status: str = "",
    multi_dose: bool = False,
    actor: User,
    request: HttpRequest | None = None,
) -> Product:
    errors: list[str] = []
    if not name.strip():
        errors.append("A product needs a name.")
    if not manufacturer.strip():
        errors.append("A product needs its manufacturer.")
    if presentation not in Presentation.values:
        errors.append(f"{presentation!r} is not a presentation.")
    try:
        validate_volume(volume_ml, label="product volume")
    except ValidationError as error:
        errors += _messages(error)
    seen: set[int] = set()
    for content in contents:
        label = content.ingredient.name
        if content.ingredient.pk in seen:
            errors.append(f"{label} is listed twice.")
        seen.add(content.ingredient.pk)
        try:
            _check_ingredient_visible(content.ingredient, clinic.pk, label)
        except ValidationError as error:
            errors += _messages(error)
        try:
            validate_concentration(content.concentration, content.unit, label=label)
        except ValidationError as error:
            errors += _messages(error)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        product = Product.objects.create(
            clinic=clinic,
            name=name.strip(),
            manufacturer=manufacturer.strip(),
            presentation=presentation,
            volume_ml=volume_ml,
            regulatory_status=regulatory_status,
            multi_dose=multi_dose,
        )
        ProductIngredient.objects.bulk_create(
            ProductIngredient(
                product=product, ingredient=c.ingredient, concentration=c.concentration, unit=c.unit
            )
            for c in contents
        )
        audit.record(AuditAction.CREATE, request=request, actor=actor, obj=product)
    return product


# --- lots ---------------------------------------------------------------------------------


def receive_lot(
    *,
    product: Product,
    lot_number: str,
    expiry_date: date,
    received_on: date,
    received_quantity: int,
    supplier: str = "",
    storage_notes: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> Lot:
    lot_number = lot_number.strip()
    errors: list[str] = []
    if not lot_number:
        errors.append("A lot needs its lot number, as printed on the pack.")
    if received_quantity < 1:
        errors.append(f"The received quantity must be at least one unit (got {received_quantity}).")
    if expiry_date < received_on:
        errors.append(f"The lot expired on {expiry_date}, before it was received on {received_on}.")
    if lot_number and Lot.objects.filter(product=product, lot_number=lot_number).exists():
        errors.append(f"{product.name} already has a lot {lot_number}.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        lot = Lot.objects.create(
            product=product,
            lot_number=lot_number,
            expiry_date=expiry_date,
            received_on=received_on,
            received_quantity=received_quantity,
            remaining_units=received_quantity,
            supplier=supplier,
            storage_notes=storage_notes,
        )
        audit.record(
            AuditAction.CREATE, request=request, actor=actor, obj=lot, clinic_id=product.clinic_id
        )
    return lot


# A lot this close to its expiry is flagged, so that it is used first or not opened in vain.
NEAR_EXPIRY_DAYS = 30


def expires_soon(lot: Lot, today: date) -> bool:
    return today <= lot.expiry_date <= today + timedelta(days=NEAR_EXPIRY_DAYS)


def status_actions(lot: Lot) -> list[str]:
    """The status changes a lot allows now: a recall is final."""
    return {
        LotStatus.ACTIVE: ["quarantine", "recall"],
        LotStatus.QUARANTINED: ["release", "recall"],
    }.get(LotStatus(lot.status), [])


@dataclass(frozen=True)
class LotCheck:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def lot_usable(lot: Lot, on: date) -> LotCheck:
    """Whether ``lot`` may go into a patient on ``on``, a date in the clinic's time zone
    (``clinic.today()``, or ``timezone.localdate(moment, clinic.tz)``). The chart calls this
    before it offers or records a lot. A lot is usable through its expiry date."""
    name = f"Lot {lot.lot_number} of {lot.product.name}"
    if lot.status == LotStatus.RECALLED:
        return LotCheck(False, f"{name} has been recalled: {lot.status_reason}")
    if lot.status == LotStatus.QUARANTINED:
        return LotCheck(False, f"{name} is quarantined: {lot.status_reason}")
    if lot.expiry_date < on:
        return LotCheck(False, f"{name} expired on {lot.expiry_date:%Y-%m-%d}.")
    if lot.received_on > on:
        return LotCheck(False, f"{name} was only received on {lot.received_on:%Y-%m-%d}.")
    return LotCheck(True)


def default_units(lot: Lot, volume_ml: Decimal) -> int:
    """Units a use takes from stock when the chart does not say. Single-dose units: enough
    to hold the volume, the rest of an opened one being discarded. Multi-dose: a new unit
    when none is open yet, else none (drawn from the open one); the chart passes ``units=1``
    when it opens another."""
    if lot.product.multi_dose:
        return 0 if lot.opened_on is not None else 1
    return max(1, math.ceil(volume_ml / lot.product.volume_ml))


def record_lot_use(
    lot: Lot,
    patient: Patient,
    volume_ml: Decimal,
    used_on: datetime,
    actor: User,
    *,
    units: int | None = None,
    formula_version: FormulaVersion | None = None,
    reference: str = "",
    note: str = "",
    request: HttpRequest | None = None,
) -> LotUse:
    """Record that ``volume_ml`` of ``lot`` went into ``patient`` at ``used_on``, taking
    units from stock; refuses an unusable lot with the reason. Naming the formula version
    marks it used, so it can no longer change."""
    validate_volume(volume_ml, label="volume used")
    if timezone.is_naive(used_on):
        raise ValidationError("The time of use must carry a time zone.")
    if units is not None and units < 0:
        raise ValidationError(f"Units taken cannot be negative (got {units}).")
    with transaction.atomic():
        # Locked: two charts signed at once must not both take the lot's last unit, and a
        # recall racing a use must either come first (use refused) or see the use.
        lot = Lot.objects.select_for_update().get(pk=lot.pk)
        product = Product.objects.select_related("clinic").get(pk=lot.product_id)
        lot.product = product
        clinic = product.clinic
        if patient.clinic_id != clinic.pk:
            raise ValidationError("The patient and the lot belong to different clinics.")
        if formula_version is not None and formula_version.formula.clinic_id != clinic.pk:
            raise ValidationError("The formula and the lot belong to different clinics.")
        local_day = timezone.localdate(used_on, clinic.tz)
        check = lot_usable(lot, local_day)
        if not check.ok:
            raise ValidationError(check.reason)
        taken = default_units(lot, volume_ml) if units is None else units
        if taken > lot.remaining_units:
            raise ValidationError(
                f"Lot {lot.lot_number} has {lot.remaining_units} unit(s) left; "
                f"this use needs {taken}."
            )
        if taken == 0 and not (product.multi_dose and lot.opened_on is not None):
            raise ValidationError(
                f"No unit of lot {lot.lot_number} is open to draw from; a use takes one."
            )
        if not product.multi_dose and volume_ml > taken * product.volume_ml:
            raise ValidationError(
                f"{volume_ml} mL is more than {taken} unit(s) of {product.volume_ml} mL hold."
            )
        lot.remaining_units -= taken
        if lot.opened_on is None:
            lot.opened_on = local_day
        lot.save(update_fields=["remaining_units", "opened_on"])
        use = LotUse.objects.create(
            lot=lot,
            patient=patient,
            used_on=used_on,
            volume_ml=volume_ml,
            units=taken,
            formula_version=formula_version,
            reference=reference,
            note=note,
            recorded_by=actor,
        )
        if formula_version is not None:
            mark_version_used(formula_version, used_on)
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=use,
            clinic_id=clinic.pk,
            lot_id=lot.pk,
            volume_ml=str(volume_ml),
            units=taken,
        )
    return use


def _change_status(
    lot: Lot,
    *,
    to: LotStatus,
    allowed_from: set[str],
    reason: str,
    actor: User,
    request: HttpRequest | None,
) -> Lot:
    reason = reason.strip()
    if not reason:
        raise ValidationError("Give the reason, for the record and for whoever reads it later.")
    with transaction.atomic():
        # Locked so that a use being recorded waits for the new status.
        lot = Lot.objects.select_for_update().get(pk=lot.pk)
        if lot.status not in allowed_from:
            raise ValidationError(
                f"Lot {lot.lot_number} is {lot.get_status_display().lower()}; "
                f"it cannot become {to.label.lower()}."
            )
        previous = lot.status
        lot.status = to
        lot.status_reason = reason
        lot.status_changed_by = actor
        lot.status_changed_at = timezone.now()
        lot.save()
        clinic_id = Product.objects.values_list("clinic_id", flat=True).get(pk=lot.product_id)
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=lot,
            clinic_id=clinic_id,
            status=str(to),
            previous_status=previous,
            reason=reason,
        )
    return lot


def quarantine_lot(
    lot: Lot, reason: str, actor: User, *, request: HttpRequest | None = None
) -> Lot:
    """Hold a lot while something is checked; ``release_lot`` or ``recall_lot`` ends it."""
    return _change_status(
        lot,
        to=LotStatus.QUARANTINED,
        allowed_from={LotStatus.ACTIVE},
        reason=reason,
        actor=actor,
        request=request,
    )


def recall_lot(lot: Lot, reason: str, actor: User, *, request: HttpRequest | None = None) -> Lot:
    """Withdraw a lot for good, and open a contact task for every patient who received it
    (``trace_lot``). No use can be added after a recall, so the tasks are complete."""
    with transaction.atomic():
        lot = _change_status(
            lot,
            to=LotStatus.RECALLED,
            allowed_from={LotStatus.ACTIVE, LotStatus.QUARANTINED},
            reason=reason,
            actor=actor,
            request=request,
        )
        patient_ids = LotUse.objects.filter(lot=lot).values_list("patient_id", flat=True)
        RecallContact.objects.bulk_create(
            RecallContact(lot=lot, patient_id=patient_id) for patient_id in sorted(set(patient_ids))
        )
    return lot


def release_lot(lot: Lot, reason: str, actor: User, *, request: HttpRequest | None = None) -> Lot:
    """End a quarantine that found nothing wrong. A recall is final."""
    return _change_status(
        lot,
        to=LotStatus.ACTIVE,
        allowed_from={LotStatus.QUARANTINED},
        reason=reason,
        actor=actor,
        request=request,
    )


def trace_lot(lot: Lot) -> QuerySet[LotUse]:
    """Every use of the lot, with its patient, in the order given, in one query."""
    return (
        LotUse.objects.filter(lot=lot)
        .select_related("patient", "formula_version__formula")
        .order_by("used_on", "pk")
    )


def open_trace(lot: Lot, *, request: HttpRequest) -> list[LotUse]:
    """``trace_lot`` for a person to read: it names patients, so the read is audited."""
    uses = list(trace_lot(lot))
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=lot,
        clinic_id=lot.product.clinic_id,
        listed_patient_ids=sorted({use.patient_id for use in uses}),
    )
    return uses


def recall_contacts(lot: Lot) -> QuerySet[RecallContact]:
    return RecallContact.objects.filter(lot=lot).select_related("patient", "updated_by")


def update_contact(
    contact: ContactTask,
    *,
    status: str,
    note: str,
    actor: User,
    request: HttpRequest | None = None,
    **audit_detail: int,
) -> ContactTask:
    """Record how contacting a patient went, on a recall's or an outbreak alert's contact
    task; every attempt is audited (with ``audit_detail``, the ids of what the task is
    about) and kept in the task's history."""
    note = note.strip()
    if status not in (ContactStatus.CONTACTED, ContactStatus.UNREACHABLE):
        raise ValidationError("Say whether the patient was contacted or could not be reached.")
    if not note:
        raise ValidationError("Note what was said or what was tried, for whoever follows up.")
    with transaction.atomic():
        # Reread under a lock: two people recording on one task take turns, and the save
        # keeps figures a scan changed meanwhile (an alert contact's infection, its sessions).
        contact = type(contact)._default_manager.select_for_update().get(pk=contact.pk)
        contact.status = status
        contact.note = note
        contact.updated_by = actor
        contact.updated_at = timezone.now()
        contact.save()
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=contact,
            clinic_id=actor.clinic_id,
            status=status,
            **audit_detail,
        )
    return contact


def record_contact(
    contact: RecallContact,
    *,
    status: str,
    note: str,
    actor: User,
    request: HttpRequest | None = None,
) -> RecallContact:
    """A recall's contact task, audited with its lot."""
    return update_contact(
        contact, status=status, note=note, actor=actor, request=request, lot_id=contact.lot_id
    )


TRACE_CSV_HEADER = (
    "patient_id",
    "family_name",
    "given_name",
    "date_of_birth",
    "phone",
    "email",
    "used_on",
    "volume_ml",
    "units",
    "formula_version",
    "reference",
    "contact_status",
)


def trace_rows(lot: Lot, *, request: HttpRequest) -> list[tuple[str, ...]]:
    """The trace as rows for a spreadsheet, times in the clinic's zone; audited as an export
    because it leaves the system."""
    tz = lot.product.clinic.tz
    contacts = {c.patient_id: c.get_status_display() for c in recall_contacts(lot)}
    rows: list[tuple[str, ...]] = []
    for use in trace_lot(lot):
        patient = use.patient
        version = use.formula_version
        rows.append(
            (
                str(patient.pk),
                patient.family_name,
                patient.given_name,
                f"{patient.date_of_birth:%Y-%m-%d}",
                patient.phone,
                patient.email,
                timezone.localtime(use.used_on, tz).isoformat(timespec="minutes"),
                f"{use.volume_ml.normalize():f}",
                str(use.units),
                str(version) if version is not None else "",
                use.reference,
                contacts.get(patient.pk, ""),
            )
        )
    audit.record(
        AuditAction.EXPORT,
        request=request,
        obj=lot,
        clinic_id=lot.product.clinic_id,
        listed_patient_ids=sorted({int(row[0]) for row in rows}),
    )
    return rows


def lots_for_patient(patient: Patient) -> QuerySet[LotUse]:
    """Every lot the patient received, as the uses that record it, in one query."""
    return (
        LotUse.objects.filter(patient=patient)
        .select_related("lot__product")
        .order_by("used_on", "pk")
    )


def open_lots_for_patient(patient: Patient, *, request: HttpRequest) -> list[LotUse]:
    """``lots_for_patient`` for a person to read, audited as a read of the patient's data."""
    uses = list(lots_for_patient(patient))
    audit.record(AuditAction.VIEW, request=request, obj=patient, what="lots received")
    return uses


# --- formulas -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentSpec:
    """A component as entered: a product or an ingredient (with its concentration and unit),
    by volume or by proportion of the total volume (percent)."""

    product: Product | None = None
    ingredient: Ingredient | None = None
    volume_ml: Decimal | None = None
    proportion: Decimal | None = None
    concentration: Decimal | None = None
    unit: str = ""

    @property
    def label(self) -> str:
        what = self.product or self.ingredient
        return str(what.name) if what is not None else "a component"

    def volume_in(self, total_volume_ml: Decimal) -> Decimal:
        if self.volume_ml is not None:
            return self.volume_ml
        assert self.proportion is not None
        return total_volume_ml * self.proportion / 100

    def key(self) -> tuple[object, ...]:
        return (
            self.product.pk if self.product else None,
            self.ingredient.pk if self.ingredient else None,
            self.volume_ml,
            self.proportion,
            self.concentration,
            self.unit,
        )


def _spec_of(component: FormulaComponent) -> ComponentSpec:
    return ComponentSpec(
        product=component.product,
        ingredient=component.ingredient,
        volume_ml=component.volume_ml,
        proportion=component.proportion,
        concentration=component.concentration,
        unit=component.unit,
    )


def validate_components(
    clinic: Clinic, components: Sequence[ComponentSpec], total_volume_ml: Decimal | None
) -> None:
    """Refuse a recipe that cannot be right, with a message for every mistake found."""
    errors: list[str] = []
    try:
        validate_volume(total_volume_ml, label="total volume")
    except ValidationError as error:
        errors += _messages(error)
        total_volume_ml = None
    if not components:
        errors.append("A formula needs at least one product or ingredient.")
    summed = Decimal(0)
    for number, spec in enumerate(components, start=1):
        label = f"Component {number} ({spec.label})"
        if (spec.product is None) == (spec.ingredient is None):
            errors.append(f"Component {number}: choose a product or an ingredient, not both.")
            continue
        if spec.product is not None:
            if spec.product.clinic_id != clinic.pk:
                errors.append(f"{label}: not a product of this clinic.")
            if spec.concentration is not None or spec.unit:
                errors.append(f"{label}: a product carries its own concentrations.")
        if spec.ingredient is not None:
            try:
                _check_ingredient_visible(spec.ingredient, clinic.pk, label)
                validate_concentration(spec.concentration, spec.unit, label=label)
            except ValidationError as error:
                errors += _messages(error)
        if (spec.volume_ml is None) == (spec.proportion is None):
            errors.append(f"{label}: give either a volume in mL or a proportion in %.")
            continue
        try:
            if spec.volume_ml is not None:
                validate_volume(spec.volume_ml, label=f"volume of component {number}")
            else:
                validate_proportion(spec.proportion)
        except ValidationError as error:
            errors += [f"{label}: {m}" for m in _messages(error)]
            continue
        if total_volume_ml is not None:
            summed += spec.volume_in(total_volume_ml)
    if total_volume_ml is not None and summed > total_volume_ml + VOLUME_TOLERANCE_ML:
        errors.append(
            f"The components add up to {summed.normalize():f} mL, more than the total volume "
            f"of {total_volume_ml.normalize():f} mL."
        )
    if errors:
        raise ValidationError(errors)


def _write_components(version: FormulaVersion, components: Sequence[ComponentSpec]) -> None:
    FormulaComponent.objects.bulk_create(
        FormulaComponent(
            version=version,
            position=position,
            product=spec.product,
            ingredient=spec.ingredient,
            volume_ml=spec.volume_ml,
            proportion=spec.proportion,
            concentration=spec.concentration,
            unit=spec.unit,
        )
        for position, spec in enumerate(components)
    )


def create_formula(
    *,
    clinic: Clinic,
    name: str,
    author: User,
    components: Sequence[ComponentSpec],
    total_volume_ml: Decimal,
    indications: Iterable[Indication] = (),
    areas: Iterable[BodyArea] = (),
    notes: str = "",
    version_notes: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> Formula:
    """A new formula with its first version."""
    name = " ".join(name.split())
    errors: list[str] = []
    if not name:
        errors.append("A formula needs a name.")
    elif Formula.objects.filter(clinic=clinic, name=name).exists():
        errors.append(f"This clinic already has a formula named {name}.")
    try:
        validate_components(clinic, components, total_volume_ml)
    except ValidationError as error:
        errors += _messages(error)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        formula = Formula.objects.create(clinic=clinic, name=name, author=author, notes=notes)
        formula.indications.set(indications)
        formula.areas.set(areas)
        version = FormulaVersion.objects.create(
            formula=formula,
            number=1,
            created_by=actor,
            total_volume_ml=total_volume_ml,
            notes=version_notes,
        )
        _write_components(version, components)
        audit.record(AuditAction.CREATE, request=request, actor=actor, obj=formula)
    return formula


def save_formula_edit(
    formula: Formula,
    components: Sequence[ComponentSpec],
    actor: User,
    *,
    total_volume_ml: Decimal | None = None,
    notes: str | None = None,
    request: HttpRequest | None = None,
) -> FormulaVersion:
    """Save a new recipe for ``formula``: in place while its current version is unused, as
    the next version once it has been used. An unchanged recipe saves nothing. Returns the
    version that now holds the recipe."""
    current = formula.current_version
    total = current.total_volume_ml if total_volume_ml is None else total_volume_ml
    validate_components(formula.clinic, components, total)
    version_notes = current.notes if notes is None else notes
    with transaction.atomic():
        # Locked: the used check and the write must see the same version. A use marking it
        # (``mark_version_used``) waits for this edit, and a second editor for this one.
        Formula.objects.select_for_update().get(pk=formula.pk)
        current = formula.versions.select_for_update().order_by("-number")[0]
        before = [_spec_of(c) for c in current.components.select_related("product", "ingredient")]
        if (
            [s.key() for s in before] == [s.key() for s in components]
            and current.total_volume_ml == total
            and current.notes == version_notes
        ):
            return current
        if current.used_at is None:
            current.components.all().delete()
            current.total_volume_ml = total
            current.notes = version_notes
            current.save()
            _write_components(current, components)
            audit.record(
                AuditAction.UPDATE,
                request=request,
                actor=actor,
                obj=current,
                clinic_id=formula.clinic_id,
                formula_id=formula.pk,
                number=current.number,
            )
            return current
        version = FormulaVersion.objects.create(
            formula=formula,
            number=current.number + 1,
            created_by=actor,
            total_volume_ml=total,
            notes=version_notes,
        )
        _write_components(version, components)
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=version,
            clinic_id=formula.clinic_id,
            formula_id=formula.pk,
            number=version.number,
        )
        return version


def update_formula_details(
    formula: Formula,
    *,
    name: str,
    notes: str,
    indications: Iterable[Indication],
    areas: Iterable[BodyArea],
    actor: User,
    request: HttpRequest | None = None,
) -> Formula:
    """Rename a formula or change what it is meant for. These describe the formula, not a
    recipe, so they change in place; ``formula.history`` keeps the earlier values."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("A formula needs a name.")
    if Formula.objects.filter(clinic_id=formula.clinic_id, name=name).exclude(pk=formula.pk):
        raise ValidationError(f"This clinic already has a formula named {name}.")
    with transaction.atomic():
        formula.name = name
        formula.notes = notes
        formula.save()
        formula.indications.set(indications)
        formula.areas.set(areas)
        audit.record(AuditAction.UPDATE, request=request, actor=actor, obj=formula)
    return formula


def mark_version_used(version: FormulaVersion, at: datetime | None = None) -> None:
    """Freeze ``version``: from now on editing its formula creates a new version. The chart
    (through ``record_lot_use`` or directly) calls this when it records the version; ``at``
    is when it was used (default now), which a chart written up later passes."""
    # One conditional UPDATE: idempotent, keeps the first time, and waits for an edit in
    # progress, which holds the row locked.
    FormulaVersion.objects.filter(pk=version.pk, used_at__isnull=True).update(
        used_at=at or timezone.now()
    )
    version.used_at = FormulaVersion.objects.values_list("used_at", flat=True).get(pk=version.pk)


class CompositionLine(NamedTuple):
    ingredient: Ingredient
    concentration: Decimal
    unit: str


def _significant(value: Decimal) -> Decimal:
    with localcontext() as context:
        context.prec = SIGNIFICANT_DIGITS
        return +value


def composition_of(
    components: Sequence[ComponentSpec], total_volume_ml: Decimal
) -> list[CompositionLine]:
    """Each ingredient's concentration in the final mix: the sum over components of its
    concentration times the component's volume, over the total volume. The same ingredient
    in one mass unit throughout stays in that unit; in several it is given in mg/mL. IU are
    kept apart from mass units, which they cannot be added to."""
    amounts: dict[tuple[int, bool], list[tuple[str, Decimal]]] = {}
    ingredients: dict[int, Ingredient] = {}

    def add(ingredient: Ingredient, concentration: Decimal, unit: str, volume: Decimal) -> None:
        ingredients[ingredient.pk] = ingredient
        amounts.setdefault((ingredient.pk, is_mass_unit(unit)), []).append(
            (unit, concentration * volume)
        )

    for spec in components:
        volume = spec.volume_in(total_volume_ml)
        if spec.product is not None:
            for content in spec.product.contents.all():
                add(content.ingredient, content.concentration, content.unit, volume)
        elif spec.ingredient is not None and spec.concentration is not None:
            add(spec.ingredient, spec.concentration, spec.unit, volume)
    lines = []
    for (ingredient_id, mass), parts in amounts.items():
        units = {unit for unit, _ in parts}
        if len(units) == 1:
            unit = units.pop()
            total = sum((amount for _, amount in parts), Decimal(0))
        else:
            assert mass, "IU/mL is the only non-mass unit"
            unit = ConcentrationUnit.MG_PER_ML
            total = sum((to_mg_per_ml(amount, u) for u, amount in parts), Decimal(0))
        lines.append(
            CompositionLine(
                ingredients[ingredient_id], _significant(total / total_volume_ml), str(unit)
            )
        )
    return sorted(lines, key=lambda line: (line.ingredient.normalised_name, line.unit))


def components_of(version: FormulaVersion) -> list[ComponentSpec]:
    return [
        _spec_of(c)
        for c in version.components.select_related("product", "ingredient").prefetch_related(
            "product__contents__ingredient"
        )
    ]


def composition(version: FormulaVersion) -> list[CompositionLine]:
    """What ``version`` contains in total: (ingredient, concentration in the mix, unit)."""
    return composition_of(components_of(version), version.total_volume_ml)


@dataclass(frozen=True)
class AllergenMatch:
    allergy: Allergy
    ingredient: Ingredient
    matched_name: str


def _mentions(substance: str, name: str) -> bool:
    # Whole words: "lidocaine hydrochloride" names lidocaine; "vitamin" does not name "vitamins".
    return f" {name} " in f" {substance} "


def allergens_for(patient: Patient, version: FormulaVersion) -> list[AllergenMatch]:
    """Each of the patient's allergies that names an ingredient of ``version``, by its name or
    a synonym, compared without case or accents. An allergy naming more (a salt, a form)
    still matches; screening decides what a match blocks."""
    allergies = list(patient.allergies.all())
    ingredients = {line.ingredient.pk: line.ingredient for line in composition(version)}
    matches = []
    for ingredient in ingredients.values():
        for allergy in allergies:
            substance = normalise_name(allergy.substance)
            for name in sorted(ingredient.normalised_names):
                if name and _mentions(substance, name):
                    matches.append(AllergenMatch(allergy, ingredient, name))
                    break
    return matches
