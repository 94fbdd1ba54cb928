"""Ingredients, products, lots and their uses, and versioned formulas.

Every concentration, volume and quantity is a ``Decimal``. Each clinic-owned model names the
path to its clinic (``clinic_path``) for ``tenancy.scoped``. Ingredients with no clinic are the
shared catalogue, readable by every clinic (``services.ingredients_for``).

A formula version is *used* once ``used_at`` is set (``services.mark_version_used``, also
called by ``services.record_lot_use`` for a use naming the version). From then on it and its
components refuse every change; editing the formula creates the next version instead.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mesoclinic.catalogue.models import BodyArea, Indication, IngredientClass, normalise_name
from mesoclinic.clinics.models import Clinic
from mesoclinic.formulas.units import ConcentrationUnit
from mesoclinic.patients.models import Patient


class UsedVersionError(Exception):
    """A formula version that has been used is immutable: edit the formula for a new one."""


class Ingredient(models.Model):
    """A substance that goes into formulas, shared (no clinic) or added by one clinic."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(
        Clinic,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ingredients",
        help_text="Empty for the shared catalogue; else the clinic that added it.",
    )
    name = models.CharField(max_length=200)
    normalised_name = models.CharField(max_length=200, editable=False, db_index=True)
    ingredient_class = models.ForeignKey(
        IngredientClass, on_delete=models.PROTECT, related_name="ingredients"
    )
    synonyms = models.JSONField(
        default=list, blank=True, help_text="Other names: INN, trade or common names."
    )
    needs_prescriber = models.BooleanField(
        default=False, help_text="A drug that only a prescriber may use (minoxidil, lidocaine)."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "normalised_name"],
                condition=models.Q(clinic__isnull=False),
                name="formulas_ingredient_name_per_clinic",
                violation_error_message="This clinic already has an ingredient of that name.",
            ),
            models.UniqueConstraint(
                fields=["normalised_name"],
                condition=models.Q(clinic__isnull=True),
                name="formulas_ingredient_name_shared",
                violation_error_message="The shared catalogue already has an ingredient of that name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.normalised_name = normalise_name(self.name)
        super().save(*args, **kwargs)

    @property
    def normalised_names(self) -> set[str]:
        """The name and every synonym, in the form names are compared in."""
        return {normalise_name(self.name)} | {normalise_name(s) for s in self.synonyms if s}


class Presentation(models.TextChoices):
    VIAL = "vial", "Vial"
    AMPOULE = "ampoule", "Ampoule"
    PREFILLED_SYRINGE = "prefilled_syringe", "Prefilled syringe"
    OTHER = "other", "Other"


class Product(models.Model):
    """A manufacturer's product as a clinic stocks it."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    manufacturer = models.CharField(max_length=200)
    presentation = models.CharField(max_length=20, choices=Presentation.choices)
    volume_ml = models.DecimalField(
        max_digits=9, decimal_places=3, help_text="Volume of one unit (vial, ampoule...)."
    )
    regulatory_status = models.TextField(
        blank=True, help_text="Authorisation, CE marking or compounding status, as known."
    )
    multi_dose = models.BooleanField(
        default=False, help_text="One unit serves several patients or sessions once opened."
    )
    ingredients = models.ManyToManyField(
        Ingredient, through="ProductIngredient", related_name="products"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(volume_ml__gt=0),
                name="formulas_product_volume_positive",
                violation_error_message="A product's volume must be above zero mL.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.manufacturer})"


class ProductIngredient(models.Model):
    """An ingredient of a product at its labelled concentration."""

    clinic_path = "product__clinic"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="contents")
    ingredient = models.ForeignKey(Ingredient, on_delete=models.PROTECT, related_name="+")
    concentration = models.DecimalField(max_digits=14, decimal_places=6)
    unit = models.CharField(max_length=8, choices=ConcentrationUnit.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["product", "ingredient__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "ingredient"], name="formulas_product_ingredient_once"
            ),
            models.CheckConstraint(
                condition=models.Q(concentration__gt=0),
                name="formulas_product_ingredient_concentration_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ingredient} {self.concentration.normalize():f} {self.unit}"


class LotStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    QUARANTINED = "quarantined", "Quarantined"
    RECALLED = "recalled", "Recalled"


class Lot(models.Model):
    """A manufacturer's batch of a product as received, counted in units (vials...)."""

    clinic_path = "product__clinic"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expiry_date = models.DateField(help_text="Usable through this day, in the clinic's time.")
    received_on = models.DateField()
    received_quantity = models.PositiveIntegerField(help_text="Units received.")
    remaining_units = models.PositiveIntegerField(
        help_text="Units not yet taken for a use; set from the received quantity."
    )
    supplier = models.CharField(max_length=200, blank=True)
    storage_notes = models.TextField(blank=True)
    opened_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=LotStatus.choices, default=LotStatus.ACTIVE)
    status_reason = models.TextField(blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["expiry_date", "lot_number"]
        constraints = [
            # Per product only: two manufacturers may well print the same lot number.
            models.UniqueConstraint(
                fields=["product", "lot_number"],
                name="formulas_lot_number_per_product",
                violation_error_message="This product already has a lot with that number.",
            ),
            models.CheckConstraint(
                condition=models.Q(received_quantity__gt=0),
                name="formulas_lot_received_quantity_positive",
                violation_error_message="The received quantity must be at least one unit.",
            ),
            models.CheckConstraint(
                condition=models.Q(remaining_units__lte=models.F("received_quantity")),
                name="formulas_lot_remaining_within_received",
            ),
            models.CheckConstraint(
                condition=models.Q(status=LotStatus.ACTIVE) | ~models.Q(status_reason=""),
                name="formulas_lot_status_has_reason",
                violation_error_message="A quarantine or recall needs a reason.",
            ),
        ]
        indexes = [models.Index(fields=["product", "expiry_date"])]

    def __str__(self) -> str:
        return f"{self.product.name} lot {self.lot_number}"


class Formula(models.Model):
    """A clinic's named cocktail; what it contains lives in its versions."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="formulas")
    name = models.CharField(max_length=200)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)
    indications = models.ManyToManyField(Indication, blank=True, related_name="+")
    areas = models.ManyToManyField(BodyArea, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[indications, areas])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="formulas_formula_name_per_clinic",
                violation_error_message="This clinic already has a formula of that name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> FormulaVersion:
        return self.versions.order_by("-number").first()  # type: ignore[return-value]


class FormulaVersion(models.Model):
    """One recipe of a formula. Immutable once used, so a chart's version never changes."""

    clinic_path = "formula__clinic"

    formula = models.ForeignKey(Formula, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    total_volume_ml = models.DecimalField(
        max_digits=9,
        decimal_places=3,
        help_text="Volume of the mix; what the components leave is plain diluent.",
    )
    notes = models.TextField(blank=True)
    used_at = models.DateTimeField(
        null=True, blank=True, help_text="When first used; a used version never changes."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["formula", "number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(
                fields=["formula", "number"], name="formulas_version_number_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(total_volume_ml__gt=0),
                name="formulas_version_total_volume_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.formula.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Checked against the stored row, not this instance, which may be stale.
        if self.pk is not None and _version_used(self.pk):
            raise UsedVersionError(f"{self} has been used and cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if _version_used(self.pk):
            raise UsedVersionError(f"{self} has been used and cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_used(self) -> bool:
        return self.used_at is not None


def _version_used(version_id: int | None) -> bool:
    if version_id is None:
        return False
    return FormulaVersion.objects.filter(pk=version_id, used_at__isnull=False).exists()


class FormulaComponent(models.Model):
    """A product, or a compounded ingredient at a stated concentration, in a version, by
    volume or by proportion (percent of the version's total volume)."""

    clinic_path = "version__formula__clinic"

    version = models.ForeignKey(FormulaVersion, on_delete=models.CASCADE, related_name="components")
    position = models.PositiveSmallIntegerField(default=0)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ingredient = models.ForeignKey(
        Ingredient, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    concentration = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="For a compounded ingredient: its concentration as added.",
    )
    unit = models.CharField(max_length=8, choices=ConcentrationUnit.choices, blank=True)
    volume_ml = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    proportion = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, help_text="Percent of the total."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(product__isnull=False, ingredient__isnull=True)
                    | models.Q(product__isnull=True, ingredient__isnull=False)
                ),
                name="formulas_component_product_xor_ingredient",
                violation_error_message="A component is either a product or an ingredient.",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(product__isnull=False, concentration__isnull=True, unit="")
                    | (models.Q(ingredient__isnull=False, concentration__gt=0) & ~models.Q(unit=""))
                ),
                name="formulas_component_concentration_for_ingredient",
                violation_error_message=(
                    "An ingredient needs its concentration and unit; a product has its own."
                ),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(volume_ml__gt=0, proportion__isnull=True)
                    | models.Q(volume_ml__isnull=True, proportion__gt=0, proportion__lte=100)
                ),
                name="formulas_component_volume_xor_proportion",
                violation_error_message="Give a volume above zero or a proportion up to 100 %.",
            ),
        ]

    def __str__(self) -> str:
        what = self.product or self.ingredient
        amount = f"{self.volume_ml} mL" if self.volume_ml is not None else f"{self.proportion} %"
        return f"{what}: {amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if _version_used(self.version_id):
            raise UsedVersionError(f"{self.version} has been used and cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if _version_used(self.version_id):
            raise UsedVersionError(f"{self.version} has been used and cannot change.")
        return super().delete(*args, **kwargs)


class LotUse(models.Model):
    """Units or volume of a lot that went into a patient: the row trace and recall query.

    Written only through ``services.record_lot_use``, which the treatment chart calls.
    """

    clinic_path = "lot__product__clinic"

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="uses")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lot_uses")
    used_on = models.DateTimeField()
    volume_ml = models.DecimalField(max_digits=9, decimal_places=3)
    units = models.PositiveIntegerField(help_text="Units taken from stock for this use.")
    formula_version = models.ForeignKey(
        FormulaVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="lot_uses"
    )
    reference = models.CharField(
        max_length=200, blank=True, help_text="What recorded it, such as a chart's number."
    )
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["used_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(volume_ml__gt=0), name="formulas_lot_use_volume_positive"
            )
        ]
        indexes = [
            models.Index(fields=["lot", "used_on"]),
            models.Index(fields=["patient", "used_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.lot} on {self.used_on:%Y-%m-%d}"


class ContactStatus(models.TextChoices):
    TO_CONTACT = "to_contact", "To contact"
    CONTACTED = "contacted", "Contacted"
    UNREACHABLE = "unreachable", "Could not be reached"


class RecallContact(models.Model):
    """A task of a recall: tell one patient who received the lot, and record how it went.

    Created by ``services.recall_lot``, one per patient in the lot's trace.
    """

    clinic_path = "lot__product__clinic"

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="recall_contacts")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="recall_contacts")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=12, choices=ContactStatus.choices, default=ContactStatus.TO_CONTACT
    )
    note = models.TextField(blank=True, help_text="What was said, or what was tried.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["lot", "patient__family_name", "patient__given_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["lot", "patient"], name="formulas_recall_contact_once_per_patient"
            )
        ]

    def __str__(self) -> str:
        return f"Recall of {self.lot}: {self.patient}"
