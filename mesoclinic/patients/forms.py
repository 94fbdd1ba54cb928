"""Forms of the patient pages. Model forms check the models' constraints (a medication
stopped before it started is refused) before any service is called."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.patients.models import Allergy, Condition, Medication, Patient


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        # The browser's date picker sends ISO dates, whatever the display language.
        super().__init__(format="%Y-%m-%d", **kwargs)


class PatientForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Patient
        fields = [
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "preferred_language",
            "notes",
        ]
        widgets = {"date_of_birth": DateInput(), "notes": forms.Textarea(attrs={"rows": 4})}

    def clean_date_of_birth(self) -> date:
        born: date = self.cleaned_data["date_of_birth"]
        if born > date.today():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        return born


class MedicationForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Medication
        fields = ["name", "dose", "started", "stopped", "last_dose_taken"]
        labels = {"name": "Drug", "last_dose_taken": "Last dose taken"}
        help_texts = {"name": "As the patient names it: ingredient or brand, e.g. Advil 200 mg."}
        widgets = {
            "started": DateInput(),
            "stopped": DateInput(),
            "last_dose_taken": DateInput(),
        }


class AllergyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Allergy
        fields = ["substance", "reaction", "notes"]
        help_texts = {"substance": "A substance or an ingredient, e.g. lidocaine."}
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ConditionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Condition
        fields = ["kind", "description", "body_area", "started", "ended"]
        widgets = {"started": DateInput(), "ended": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body_area"].queryset = BodyArea.objects.filter(retired=False)  # type: ignore[attr-defined]


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        help_text="A name, a date of birth (1980-03-14 or 14/03/1980) or a phone number.",
    )


class EraseForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the identity is erased, e.g. the patient's request of 2 May. Kept in the audit log.",
    )
    confirm = forms.BooleanField(
        label="I understand that the name, contact details and notes cannot be restored."
    )
