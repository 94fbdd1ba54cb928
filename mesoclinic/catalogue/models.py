"""Reference data shared by every clinic.

Rows are written only by the loader (``loader.py``) from the TOML files in ``data/``. An
entry's ``code`` is its identity: other apps point at the primary key, and the loader keeps
the key when a file changes the entry, so those references survive an update. An entry
dropped from a file is marked retired, never deleted, for the same reason.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.utils.safestring import SafeString

from mesoclinic.catalogue import markup


class Loaded(models.Model):
    """What every row written from a data file carries."""

    retired = models.BooleanField(
        default=False,
        help_text="No longer in the data files; kept because records may still point to it.",
    )
    data_version = models.PositiveIntegerField(
        help_text="Version of the data file that last wrote this row."
    )

    class Meta:
        abstract = True


class CatalogueEntry(Loaded):
    """An entry of a catalogue section, named by a stable code."""

    code = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    description = models.TextField()
    source = models.CharField(max_length=300, help_text="Where the facts come from.")

    class Meta:
        abstract = True
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class DataFile(models.Model):
    """A data file as last loaded, to tell which version of the catalogue a database holds."""

    name = models.CharField(max_length=100, unique=True)
    version = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class IngredientClass(CatalogueEntry):
    pass


class Direction(models.TextChoices):
    HIGHER_IS_BETTER = "higher-is-better", "Higher is better"
    LOWER_IS_BETTER = "lower-is-better", "Lower is better"
    # A measure recorded to interpret another (body weight beside circumference).
    NEITHER = "neither", "Neither (context measure)"


class ScaleKind(models.TextChoices):
    # A few named grades: each level is labelled, and only their order means anything.
    ORDINAL = "ordinal", "Ordinal"
    # A measurement or a summed score on a numeric range.
    CONTINUOUS = "continuous", "Continuous"
    COUNT = "count", "Count"


class OutcomeScale(CatalogueEntry):
    """A validated scale or physical measure. Outcomes store the scale with every value, and
    each variant of a scale (another range, a reversed order) is a separate entry."""

    kind = models.CharField(max_length=12, choices=ScaleKind.choices)
    variant = models.CharField(max_length=200, blank=True)
    min_value = models.DecimalField(max_digits=9, decimal_places=3)
    max_value = models.DecimalField(max_digits=9, decimal_places=3)
    step = models.DecimalField(max_digits=9, decimal_places=3)
    unit = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    loinc_code = models.CharField(
        max_length=10,
        blank=True,
        validators=[RegexValidator(r"^\d{1,7}-\d$", "A LOINC code looks like 72514-3.")],
    )
    minimal_important_difference = models.DecimalField(
        max_digits=9,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Smallest change patients notice, where published; empty if unknown.",
    )
    all_indications = models.BooleanField(
        default=False, help_text="Serves every indication, present and future."
    )
    indications: models.ManyToManyField[Indication, Any] = models.ManyToManyField(
        "Indication", blank=True, related_name="scales"
    )

    class Meta(CatalogueEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_value__lt=models.F("max_value")),
                name="catalogue_scale_min_below_max",
                violation_error_message="min must be below max.",
            ),
            models.CheckConstraint(
                condition=models.Q(step__gt=0),
                name="catalogue_scale_step",
                violation_error_message="step must be above zero.",
            ),
        ]


class ScaleLevel(Loaded):
    """A labelled point of a scale: every grade of an ordinal scale, the anchors of others."""

    scale = models.ForeignKey(OutcomeScale, on_delete=models.PROTECT, related_name="levels")
    value = models.DecimalField(max_digits=9, decimal_places=3)
    label = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["scale", "value"]
        constraints = [
            models.UniqueConstraint(fields=["scale", "value"], name="catalogue_level_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scale.code} {self.value}: {self.label}"


class Indication(CatalogueEntry):
    evidence_note = models.TextField(
        blank=True, help_text="What published evidence shows, where it is thin."
    )
    primary_scale = models.ForeignKey(
        OutcomeScale, on_delete=models.PROTECT, related_name="primary_for"
    )


class BodyMapView(models.TextChoices):
    FRONT = "front", "Front"
    BACK = "back", "Back"
    FACE = "face", "Face"
    SCALP = "scalp", "Scalp"


class BodyArea(CatalogueEntry):
    snomed_code = models.CharField(
        max_length=18,
        validators=[RegexValidator(r"^\d{6,18}$", "A SNOMED CT identifier is 6-18 digits.")],
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="sub_areas"
    )
    view = models.CharField(
        max_length=10, choices=BodyMapView.choices, help_text="The body-map view that shows it."
    )
    paired = models.BooleanField(
        default=False, help_text="Exists on both sides, so a chart records the side."
    )


class SideEffect(CatalogueEntry):
    expected_course = models.TextField()
    settles_within_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Expected to settle within this time; still present later raises a flag.",
    )
    always_flag = models.BooleanField(
        default=False, help_text="Raises a flag whenever it is reported."
    )


class Protocol(CatalogueEntry):
    """Course defaults that a course plan starts from and may change."""

    sessions_min = models.PositiveSmallIntegerField()
    sessions_max = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField()
    interval_tolerance_days = models.PositiveSmallIntegerField()
    session_minutes = models.PositiveSmallIntegerField()
    anaesthetic_cream_optional = models.BooleanField()
    maintenance_per_year_min = models.PositiveSmallIntegerField()
    maintenance_per_year_max = models.PositiveSmallIntegerField()

    class Meta(CatalogueEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sessions_min__gt=0, sessions_min__lte=models.F("sessions_max")),
                name="catalogue_protocol_sessions",
                violation_error_message="sessions_min must be at least 1 and at most sessions_max.",
            ),
            models.CheckConstraint(
                condition=models.Q(interval_tolerance_days__lt=models.F("interval_days")),
                name="catalogue_protocol_tolerance",
                violation_error_message="interval_tolerance_days must be below interval_days.",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    maintenance_per_year_min__lte=models.F("maintenance_per_year_max")
                ),
                name="catalogue_protocol_maintenance",
                violation_error_message="maintenance_per_year_min must not exceed the max.",
            ),
        ]


class DrugNameKind(models.TextChoices):
    INGREDIENT = "ingredient", "Ingredient"
    BRAND = "brand", "Brand"


class DrugClass(CatalogueEntry):
    """A group of drugs matched by ATC code prefix (a drug coded M01AE01 is in M01A)."""

    atc_code = models.CharField(
        max_length=7,
        validators=[
            RegexValidator(
                r"^[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?$", "An ATC code looks like M01A or B01AC06."
            )
        ],
    )
    bleeding_risk = models.BooleanField(
        help_text="Makes bleeding and bruising at injection points more likely."
    )

    class Meta(CatalogueEntry.Meta):
        constraints = [
            # Among active classes only: a class retired under an old code keeps its ATC
            # code, which a class under a new code may take over.
            models.UniqueConstraint(
                fields=["atc_code"],
                condition=models.Q(retired=False),
                name="catalogue_drug_class_atc_unique",
            )
        ]

    # Read from names.all() so that a prefetch of the names serves both lists.
    @property
    def ingredient_names(self) -> list[str]:
        return [n.name for n in self.names.all() if n.kind == DrugNameKind.INGREDIENT]

    @property
    def brand_names(self) -> list[str]:
        return [n.name for n in self.names.all() if n.kind == DrugNameKind.BRAND]


def normalise_name(name: str) -> str:
    """The form names are compared in: no case, no accents, single spaces
    ("Aspégic " and "aspegic" are the same drug name)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.split())


class DrugName(Loaded):
    """A name a patient or a record may give a drug of a class. One name can belong to
    several classes (aspirin is a painkiller and an antiplatelet)."""

    drug_class = models.ForeignKey(DrugClass, on_delete=models.PROTECT, related_name="names")
    name = models.CharField(max_length=200)
    normalised_name = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=12, choices=DrugNameKind.choices)

    class Meta:
        ordering = ["normalised_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["drug_class", "normalised_name"], name="catalogue_drug_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class PreCareRule(CatalogueEntry):
    """Drugs to avoid before a session: screening checks them, reminders send the message."""

    window_days = models.PositiveSmallIntegerField(
        help_text="Days before a session during which the drugs should not be taken."
    )
    patient_message = models.TextField(help_text="{days} stands for the window in days.")
    drug_classes = models.ManyToManyField(DrugClass, related_name="precare_rules")

    def message_for(self, days: int | None = None) -> str:
        """The patient's message for a window of ``days`` (a clinic's own), else this rule's."""
        return self.patient_message.replace("{days}", str(days or self.window_days))


class ConditionKind(models.TextChoices):
    """Kinds of condition a patient record holds; screening rules name them."""

    PREGNANCY = "pregnancy", "Pregnancy"
    BREASTFEEDING = "breastfeeding", "Breastfeeding"
    MAY_BECOME_PREGNANT = "may_become_pregnant", "May become pregnant"
    SKIN = "skin", "Skin condition (infection, wound, inflammatory disease)"
    BLEEDING_DISORDER = "bleeding_disorder", "Bleeding or clotting disorder"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    """How much a screening finding stops: ordered from most to least."""

    BLOCK = "block", "Block"
    WARN = "warn", "Warning"
    INFORM = "inform", "Information"


class ScreeningCheck(models.TextChoices):
    """What a screening rule looks at. The rules engine (mesoclinic.screening.engine) has one
    evaluator per check; a rule chooses one and gives its parameters."""

    DRUG_TAKEN_IN_WINDOW = (
        "drug-taken-in-window",
        "A drug of the pre-care classes taken in its window",
    )
    DRUG_ONGOING = "drug-ongoing", "A drug of the given classes taken on the session date"
    UNRESOLVED_DRUG = "unresolved-drug", "A medication not matched to any drug class"
    CONDITION_ACTIVE = "condition-active", "A condition of the given kinds on the session date"
    CONDITION_MENTIONS = "condition-mentions", "A condition whose description names a term"
    ALLERGY_TO_FORMULA = "allergy-to-formula", "An allergy to an ingredient of the formula"
    SKIN_AT_AREA = "skin-at-area", "A skin condition at a planned area"
    PRESCRIPTION_MISSING = (
        "prescription-missing",
        "A prescription-only ingredient with no prescriber",
    )
    INGREDIENT_WITH_CONDITION = (
        "ingredient-with-condition",
        "Given ingredients with given conditions",
    )
    LICENCE = "licence", "The practitioner's licence on the session date"
    PREVIOUS_SERIOUS_EVENT = (
        "previous-serious-event",
        "A serious side effect after an earlier session with the same formula",
    )


# The parameters each check needs (and the only ones it takes).
CHECK_PARAMETERS: dict[str, set[str]] = {
    ScreeningCheck.DRUG_TAKEN_IN_WINDOW: {"precare_rule"},
    ScreeningCheck.DRUG_ONGOING: {"drug_classes"},
    ScreeningCheck.UNRESOLVED_DRUG: set(),
    ScreeningCheck.CONDITION_ACTIVE: {"condition_kinds"},
    ScreeningCheck.CONDITION_MENTIONS: {"terms"},
    ScreeningCheck.ALLERGY_TO_FORMULA: set(),
    ScreeningCheck.SKIN_AT_AREA: set(),
    ScreeningCheck.PRESCRIPTION_MISSING: set(),
    ScreeningCheck.INGREDIENT_WITH_CONDITION: {"ingredients", "condition_kinds"},
    ScreeningCheck.LICENCE: set(),
    ScreeningCheck.PREVIOUS_SERIOUS_EVENT: set(),
}


class ScreeningRule(CatalogueEntry):
    """One thing checked before a session: which check, with what parameters, how severe,
    and what staff read when it fires (why it matters, what to do)."""

    severity = models.CharField(max_length=8, choices=Severity.choices)
    check_kind = models.CharField(max_length=40, choices=ScreeningCheck.choices)
    parameters = models.JSONField(default=dict, blank=True)
    overridable = models.BooleanField(
        help_text="A practitioner may go ahead after review, with a written reason."
    )
    message = models.TextField(help_text="Why this matters, in plain words.")
    action = models.TextField(help_text="What to do when it fires.")

    class Meta(CatalogueEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(overridable=False) | models.Q(severity="block"),
                name="catalogue_screening_override_only_blocks",
                violation_error_message="Only a blocking rule can be overridden.",
            )
        ]


class PageLanguage(models.TextChoices):
    """The languages every patient information page is written in."""

    ENGLISH = "en", "English"
    FRENCH = "fr", "Français"


class PatientInformationPage(Loaded):
    """A page written for patients, in one language. A page's translations share its code;
    the patient portal shows the one in the patient's language, and staff review them all in
    the catalogue first. The body is plain text in the small markup of ``markup.py``."""

    code = models.SlugField(max_length=64)
    language = models.CharField(max_length=2, choices=PageLanguage.choices)
    position = models.PositiveSmallIntegerField(
        help_text="Order in which the pages are read: the first appearance of the code in its file."
    )
    title = models.CharField(max_length=200)
    summary = models.TextField()
    body = models.TextField(
        help_text="Paragraphs separated by blank lines; '- ' starts a list item."
    )
    reviewed_on = models.DateField()
    reviewed_by = models.CharField(max_length=200)
    sources = models.JSONField(help_text="Where the facts come from (seed, DOMAIN.md sections).")

    class Meta:
        ordering = ["position", "code", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "language"], name="catalogue_patient_page_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"

    @property
    def body_html(self) -> SafeString:
        return markup.render(self.body)
