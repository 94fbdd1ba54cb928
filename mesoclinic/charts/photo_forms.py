"""The form that adds a photo to a draft chart. It reads the choices; ``photos.add_photo``
checks the image itself (kind, size, pixels) and stores it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts.models import Chart, PhotoMoment, PhotoView


def area_choices(chart: Chart) -> list[Any]:
    """The catalogue's areas in use, those charted or planned for this chart first."""
    charted = set(chart.areas.values_list("body_area__code", flat=True))
    if chart.plan is not None:
        charted |= set(chart.plan.areas.values_list("code", flat=True))
    areas = list(
        BodyArea.objects.filter(retired=False).order_by("label").values_list("code", "label")
    )
    ours = [(code, label) for code, label in areas if code in charted]
    others = [(code, label) for code, label in areas if code not in charted]
    if not ours:
        return [("", "Choose the area…"), *others]
    return [("", "Choose the area…"), ("This session", ours), ("Other areas", others)]


class PhotoForm(forms.Form):
    image = forms.FileField(
        label="Photo",
        help_text="JPEG, PNG or WebP, up to 15 MB. Location and camera data are removed.",
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
        error_messages={
            "required": "Take or choose a photo.",
            "empty": "The file is empty.",
        },
    )
    moment = forms.ChoiceField(
        label="When", choices=PhotoMoment.choices, initial=PhotoMoment.BEFORE
    )
    body_area = forms.ChoiceField(label="Area")
    view = forms.ChoiceField(label="View", choices=PhotoView.choices, initial=PhotoView.FRONT)
    taken_at = forms.DateTimeField(
        label="Taken at",
        required=False,
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args: Any, chart: Chart, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chart = chart
        self.fields["body_area"].choices = area_choices(chart)  # type: ignore[attr-defined]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("id", f"photo-{name}")

    def clean_body_area(self) -> BodyArea:
        code = self.cleaned_data["body_area"]
        area = BodyArea.objects.filter(code=code, retired=False).first()
        if area is None:
            raise forms.ValidationError("Choose a body area from the list.")
        return area

    def clean_taken_at(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("taken_at")
        if value is None:
            return None
        # The form's time is the clinic's wall clock, whatever the server's zone.
        tz: ZoneInfo = self.chart.clinic.tz
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=tz)
