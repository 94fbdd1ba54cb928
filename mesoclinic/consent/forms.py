from __future__ import annotations

from typing import Any

from django import forms

from mesoclinic.consent.content import languages, texts
from mesoclinic.consent.models import WithdrawalHow


class PrepareForm(forms.Form):
    language = forms.ChoiceField(label="Language of the document")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["language"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (code, str(texts(code)["language_name"]).capitalize()) for code in languages()
        ]


class SignForm(forms.Form):
    """What the tablet sends: the pad's drawing as a PNG data URL, the box ticked, and the
    hash of the text it showed."""

    signature = forms.CharField(widget=forms.HiddenInput, required=False)
    content_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    read_and_understood = forms.BooleanField()

    def __init__(self, *args: Any, language: str = "en", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        words = texts(language)["tablet"]
        field = self.fields["read_and_understood"]
        field.label = words["read"]
        field.error_messages["required"] = words["read_missing"]


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason the patient gave",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="In the patient's words; 'none given' if they gave none.",
    )
    how = forms.ChoiceField(label="How the patient told us", choices=WithdrawalHow.choices)
    withdrawn_at = forms.DateTimeField(
        label="When",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: now. In the clinic's time.",
    )
