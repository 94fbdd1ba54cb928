from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from mesoclinic.clinics.models import Clinic, Licence, User
from mesoclinic.clinics.services import ASSIGNABLE_ROLES, validate_document

ROLE_CHOICES = [(role.value, role.label) for role in ASSIGNABLE_ROLES]


class StaffCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$",
        max_length=150,
        error_messages={"invalid": "Use 3 to 150 letters, digits and . @ + - _ only."},
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    password = forms.CharField(
        label="Temporary password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Give it to them in person; they change it from their account page.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class DateInput(forms.DateInput):
    input_type = "date"


class LicenceForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Licence
        fields = [
            "practitioner",
            "number",
            "issuing_body",
            "jurisdiction",
            "valid_from",
            "valid_until",
            "document",
        ]
        widgets = {"valid_from": DateInput(), "valid_until": DateInput()}

    def __init__(self, *args: Any, practitioners: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the clinic's own practitioners can be chosen: the caller passes a scoped queryset.
        self.fields["practitioner"].queryset = practitioners  # type: ignore[attr-defined]
        self.fields["document"].widget.attrs["accept"] = ".pdf,.png,.jpg,.jpeg"
        self.fields["document"].help_text = "PDF, PNG or JPEG, at most 10 MB."

    def clean_document(self) -> Any:
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):
            validate_document(document)
        return document


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What it is for, e.g. “practice laptop script”."
    )


class ClinicSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Clinic
        fields = [
            "name",
            "address",
            "phone",
            "email",
            "time_zone",
            "precare_window_days",
            "paper_size",
        ]
        labels = {"precare_window_days": "NSAID stop window (days)"}
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}
