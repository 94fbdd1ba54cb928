"""Forms of the formula library pages. They parse what was typed; the services decide what is
acceptable (unit slips, volumes, clinic ownership), so that the pages and the API refuse the
same things with the same sentences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from mesoclinic.catalogue.models import BodyArea, Indication, IngredientClass
from mesoclinic.clinics.models import Clinic
from mesoclinic.formulas.models import ContactStatus, Ingredient, Presentation, Product
from mesoclinic.formulas.services import ComponentSpec, Content, ingredients_for
from mesoclinic.formulas.units import ConcentrationUnit
from mesoclinic.patients.forms import DateInput

ML = "mL"
PERCENT = "%"
UNIT_CHOICES = [("", "—"), *ConcentrationUnit.choices]


def _decimal(**kwargs: Any) -> forms.DecimalField:
    # No bounds here: the services' messages say what a bad value probably meant.
    return forms.DecimalField(
        required=False, widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}), **kwargs
    )


class ComponentForm(forms.Form):
    """One row of a recipe: a product, or an ingredient at its concentration, by volume or
    by proportion of the total."""

    item = forms.ChoiceField(label="Product or ingredient", required=False)
    concentration = _decimal(label="Concentration", help_text="Ingredients only.")
    unit = forms.ChoiceField(label="Unit", choices=UNIT_CHOICES, required=False)
    amount = _decimal(label="Amount")
    amount_unit = forms.ChoiceField(
        label="Amount unit", choices=[(ML, "mL"), (PERCENT, "% of total")], initial=ML
    )

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        products = Product.objects.filter(clinic=clinic).order_by("name")
        ingredients = ingredients_for(clinic).order_by("name")
        item = self.fields["item"]
        assert isinstance(item, forms.ChoiceField)
        item.choices = [
            ("", "—"),
            ("Products", [(f"p:{p.pk}", str(p)) for p in products]),
            ("Ingredients (compounded)", [(f"i:{i.pk}", i.name) for i in ingredients]),
        ]
        # The row's cells have no label of their own: name each for screen readers.
        row = self.prefix.rsplit("-", 1)[-1] if self.prefix else ""
        if row.isdigit():
            for field in self.fields.values():
                field.widget.attrs["aria-label"] = f"{field.label}, row {int(row) + 1}"

    def spec(self) -> ComponentSpec | None:
        """The row as the services take it; None for a row left empty."""
        data = self.cleaned_data
        if not data.get("item"):
            if data.get("amount") is not None or data.get("concentration") is not None:
                raise ValidationError("Choose a product or an ingredient for every filled row.")
            return None
        kind, _, pk = data["item"].partition(":")
        product = Product.objects.get(pk=pk, clinic=self.clinic) if kind == "p" else None
        ingredient = ingredients_for(self.clinic).get(pk=pk) if kind == "i" else None
        amount: Decimal | None = data.get("amount")
        if amount is None:
            raise ValidationError("Give an amount for every product or ingredient.")
        by_volume = data["amount_unit"] == ML
        return ComponentSpec(
            product=product,
            ingredient=ingredient,
            volume_ml=amount if by_volume else None,
            proportion=None if by_volume else amount,
            concentration=data.get("concentration") if ingredient else None,
            unit=data.get("unit", "") if ingredient else "",
        )

    @classmethod
    def initial_for(cls, spec: ComponentSpec) -> dict[str, Any]:
        item = f"p:{spec.product.pk}" if spec.product else f"i:{spec.ingredient.pk}"  # type: ignore[union-attr]
        by_volume = spec.volume_ml is not None
        return {
            "item": item,
            "concentration": spec.concentration,
            "unit": spec.unit,
            "amount": spec.volume_ml if by_volume else spec.proportion,
            "amount_unit": ML if by_volume else PERCENT,
        }


class BaseComponentFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        self.clinic = clinic
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "clinic": self.clinic}

    @property
    def empty_form(self) -> ComponentForm:
        return self.form(  # type: ignore[no-any-return]
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            clinic=self.clinic,
        )

    def specs(self) -> list[ComponentSpec]:
        """Every filled row, in order; a ``ValidationError`` lists the rows that are not."""
        specs, errors = [], []
        for number, form in enumerate(self.forms, start=1):
            try:
                spec = form.spec()
            except ValidationError as error:
                errors += [f"Row {number}: {message}" for message in error.messages]
                continue
            if spec is not None:
                specs.append(spec)
        if errors:
            raise ValidationError(errors)
        return specs


# Empty rows offered below a recipe, and added by "Another row".
SPARE_ROWS = 2


def component_formset(
    clinic: Clinic,
    data: Any = None,
    specs: list[ComponentSpec] | None = None,
    *,
    extra_rows: int = SPARE_ROWS,
) -> BaseComponentFormSet:
    initial = [ComponentForm.initial_for(spec) for spec in specs or []]
    formset_class = cast(
        type[BaseComponentFormSet],
        forms.formset_factory(
            ComponentForm,
            formset=BaseComponentFormSet,
            extra=extra_rows,
            max_num=40,
            validate_max=True,
        ),
    )
    return formset_class(data, initial=initial, prefix="component", clinic=clinic)


class FormulaForm(forms.Form):
    name = forms.CharField(max_length=200)
    indications = forms.ModelMultipleChoiceField(
        queryset=Indication.objects.filter(retired=False),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the formula is meant to treat.",
    )
    areas = forms.ModelMultipleChoiceField(
        queryset=BodyArea.objects.filter(retired=False),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        required=False,
        label="Body areas",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class RecipeForm(forms.Form):
    total_volume_ml = _decimal(
        label="Total volume (mL)",
        help_text="The volume of the mix; what the components leave is diluent.",
    )
    version_notes = forms.CharField(
        label="Notes on this recipe",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="How to mix it, or why it changed.",
    )


class IngredientForm(forms.Form):
    name = forms.CharField(max_length=200)
    ingredient_class = forms.ModelChoiceField(
        queryset=IngredientClass.objects.filter(retired=False), label="Class"
    )
    synonyms = forms.CharField(
        required=False, help_text="Other names, separated by commas: INN, trade or common names."
    )
    needs_prescriber = forms.BooleanField(required=False, label="Only a prescriber may use it")

    def clean_synonyms(self) -> list[str]:
        return [s.strip() for s in self.cleaned_data["synonyms"].split(",") if s.strip()]


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    manufacturer = forms.CharField(max_length=200)
    presentation = forms.ChoiceField(choices=Presentation.choices)
    volume_ml = _decimal(label="Volume of one unit (mL)")
    multi_dose = forms.BooleanField(
        required=False, label="Multi-dose: one unit serves several uses once opened"
    )
    regulatory_status = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Authorisation, CE marking or compounding status, as known.",
    )


class ContentForm(forms.Form):
    ingredient = forms.ModelChoiceField(queryset=Ingredient.objects.none(), required=False)
    concentration = _decimal()
    unit = forms.ChoiceField(choices=UNIT_CHOICES, required=False)

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ingredient"].queryset = ingredients_for(clinic).order_by("name")  # type: ignore[attr-defined]

    def content(self) -> Content | None:
        data = self.cleaned_data
        if data.get("ingredient") is None:
            if data.get("concentration") is not None:
                raise ValidationError("Choose the ingredient of every concentration given.")
            return None
        if data.get("concentration") is None:
            raise ValidationError(f"Give the concentration of {data['ingredient']}.")
        return Content(data["ingredient"], data["concentration"], data.get("unit", ""))


class BaseContentFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        self.clinic = clinic
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "clinic": self.clinic}

    def contents(self) -> list[Content]:
        contents, errors = [], []
        for number, form in enumerate(self.forms, start=1):
            try:
                content = form.content()
            except ValidationError as error:
                errors += [f"Ingredient row {number}: {m}" for m in error.messages]
                continue
            if content is not None:
                contents.append(content)
        if errors:
            raise ValidationError(errors)
        return contents


def content_formset(clinic: Clinic, data: Any = None) -> BaseContentFormSet:
    formset_class = cast(
        type[BaseContentFormSet],
        forms.formset_factory(
            ContentForm, formset=BaseContentFormSet, extra=4, max_num=20, validate_max=True
        ),
    )
    return formset_class(data, prefix="content", clinic=clinic)


class LotForm(forms.Form):
    lot_number = forms.CharField(max_length=60, help_text="As printed on the pack.")
    expiry_date = forms.DateField(widget=DateInput())
    received_on = forms.DateField(widget=DateInput())
    received_quantity = forms.IntegerField(label="Units received", min_value=1)
    supplier = forms.CharField(max_length=200, required=False)
    storage_notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class LotStatusForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("quarantine", "Quarantine"), ("recall", "Recall"), ("release", "Release")]
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ContactForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (ContactStatus.CONTACTED, ContactStatus.CONTACTED.label),
            (ContactStatus.UNREACHABLE, ContactStatus.UNREACHABLE.label),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
