from __future__ import annotations

from django import forms


class FeedForm(forms.Form):
    label = forms.CharField(
        max_length=100,
        required=False,
        help_text="Optional: where the address is used, for example “iPhone”.",
    )
