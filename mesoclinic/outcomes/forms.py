"""The record form of a course's measurements page, built for one scale: an ordinal scale's
value is chosen among its levels, any other is typed within its range and step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from mesoclinic.catalogue.models import OutcomeScale, ScaleKind
from mesoclinic.clinics.models import STAFF_ROLES, User
from mesoclinic.outcomes.models import Rater
from mesoclinic.outcomes.services import number_text, scale_range, site_required
from mesoclinic.outcomes.timepoints import WINDOWS_HELP


def local_moment(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in the clinic's zone; one that a change to summer time skips is
    refused rather than shifted. Of a time that happens twice, the first is meant."""
    moment = naive.replace(tzinfo=tz)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks skipped it."
        )
    return moment


class MeasurementForm(forms.Form):
    value = forms.DecimalField(max_digits=10, decimal_places=3)
    measured_at = forms.DateTimeField(
        label="Measured at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=WINDOWS_HELP,
    )
    rater = forms.ChoiceField(choices=Rater.choices, label="Rated by")
    rated_by = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Who rated",
        help_text="For the patient's own rating, the staff member who asked for it.",
    )
    site = forms.CharField(max_length=200, required=False, label="Site")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(
        self,
        *args: Any,
        scale: OutcomeScale,
        clinic_id: int,
        tz: ZoneInfo,
        sites: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.scale, self.tz = scale, tz
        # The course's earlier sites on this scale, offered as the site's choices (a datalist).
        self.site_choices = list(sites)
        levels = list(scale.levels.all())
        help_text = f"Takes values {scale_range(scale)}."
        if scale.kind == ScaleKind.ORDINAL and levels:
            self.fields["value"] = forms.TypedChoiceField(
                choices=[("", "—")]
                + [
                    (number_text(level.value), f"{number_text(level.value)}: {level.label}")
                    for level in levels
                ],
                coerce=str,
                help_text=" ".join(
                    f"{number_text(level.value)} {level.label}: {level.description}"
                    for level in levels
                    if level.description
                ),
            )
        else:
            anchors = "; ".join(f"{number_text(level.value)} = {level.label}" for level in levels)
            self.fields["value"].widget.attrs |= {
                "min": number_text(scale.min_value),
                "max": number_text(scale.max_value),
                "step": number_text(scale.step),
                "inputmode": "decimal",
            }
            self.fields["value"].help_text = f"{help_text} {anchors}".strip()
        self.fields["value"].label = f"Value{f' ({scale.unit})' if scale.unit else ''}"
        rated_by = self.fields["rated_by"]
        assert isinstance(rated_by, forms.ModelChoiceField)
        rated_by.queryset = User.objects.filter(
            clinic=clinic_id, role__in=STAFF_ROLES, is_active=True
        ).order_by("last_name", "first_name", "username")
        self.fields["site"].required = site_required(scale)
        self.fields["site"].help_text = (
            "The landmark or target area, marked the same way at every visit "
            "(e.g. “navel + 5 cm”, “vertex tattoo”)."
        )
        if self.site_choices:
            self.fields["site"].widget.attrs["list"] = "id_site_choices"
            self.fields["site"].help_text += (
                " Earlier on this course: " + "; ".join(self.site_choices) + ". Use the same "
                "words: a change is computed only between readings at the same site."
            )

    def clean_measured_at(self) -> datetime:
        return local_moment(self.cleaned_data["measured_at"].replace(tzinfo=None), self.tz)


class RetractForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
