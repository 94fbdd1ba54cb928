from __future__ import annotations

from django import forms

from mesoclinic.screening.models import Answer

YES_NO = [(Answer.YES, "Yes"), (Answer.NO, "No")]


class CheckInForm(forms.Form):
    """The questions asked on the day (or the day before): short, and each answer goes into
    the record, where screening reads it."""

    nsaid_last_week = forms.ChoiceField(
        label="Any aspirin, ibuprofen or other anti-inflammatory painkiller in the last week?",
        choices=YES_NO,
        widget=forms.RadioSelect,
    )
    nsaid_name = forms.CharField(
        label="Which one?", required=False, max_length=200, help_text="Name or brand, e.g. Advil."
    )
    nsaid_last_dose = forms.DateField(
        label="Last dose taken on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    new_medications = forms.CharField(
        label="New medicines since the last visit",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line; leave empty if none.",
    )
    pregnant = forms.ChoiceField(
        label="Pregnant, or could be?",
        choices=Answer.choices,
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label="Anything else the patient mentioned",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Why it is safe to go ahead",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the chart and in the evidence; at least 10 characters.",
    )


class PrescriptionForm(forms.Form):
    prescriber_name = forms.CharField(label="Prescriber", max_length=200)
    prescriber_registration = forms.CharField(label="Registration number", max_length=100)
    issued_on = forms.DateField(label="Issued on", widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))
