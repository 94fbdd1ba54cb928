"""The follow-up pages' forms: they parse and check the input's shape; the services decide
whether it may be recorded."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts.models import Chart
from mesoclinic.followup.models import (
    GRADE_MEANING,
    AdverseEvent,
    Causality,
    EventOutcome,
    FlagAction,
    FollowUpChannel,
    Grade,
    Reporter,
)
from mesoclinic.followup.services import FOLLOW_UP_QUESTIONS, MIN_NOTE, EventSpec, version_of

ANSWER_CHOICES = [(0, "None"), *Grade.choices]
GRADE_HELP = " ".join(f"{grade.value} {grade.label[2:]}: {GRADE_MEANING[grade]}" for grade in Grade)
OTHER = "other"
DATE = forms.DateInput(attrs={"type": "date"})


class FollowUpForm(forms.Form):
    """One select per question of the 24-hour check, then how it was answered."""

    channel = forms.ChoiceField(
        label="How it was answered", choices=[("", "Choose…"), *FollowUpChannel.choices]
    )
    answered_at = forms.DateTimeField(
        label="Answered at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Clinic time; leave empty for now.",
    )
    day_off_work = forms.BooleanField(label="Needed a day off work", required=False)
    notes = forms.CharField(
        label="Notes", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions = {
            code: forms.TypedChoiceField(
                label=question,
                choices=ANSWER_CHOICES,
                coerce=int,
                initial=0,
                help_text="The grade of what is still there now.",
            )
            for code, question in FOLLOW_UP_QUESTIONS
        }
        # The questions first, in the order they are asked.
        self.fields = {**questions, **self.fields}

    @property
    def questions(self) -> list[forms.BoundField]:
        return [self[code] for code, _ in FOLLOW_UP_QUESTIONS]

    @property
    def details(self) -> list[forms.BoundField]:
        return [self[name] for name in ("channel", "answered_at", "day_off_work", "notes")]

    def answers(self) -> dict[str, int]:
        return {code: self.cleaned_data[code] for code, _ in FOLLOW_UP_QUESTIONS}


def _side_effect_choices() -> list[tuple[str, str]]:
    effects = SideEffect.objects.filter(retired=False).order_by("label")
    return [
        ("", "Choose…"),
        *[(effect.code, effect.label) for effect in effects],
        (OTHER, "Other (describe it)"),
    ]


class EventForm(forms.Form):
    side_effect = forms.ChoiceField(label="Side effect")
    other_description = forms.CharField(
        label="If other, what it was",
        required=False,
        max_length=300,
        help_text="Only when no side effect of the list fits; it is coded later.",
    )
    body_area = forms.ChoiceField(label="Where", required=False)
    onset_on = forms.DateField(label="Began on", widget=DATE)
    grade = forms.TypedChoiceField(
        label="Grade", choices=[("", "Choose…"), *Grade.choices], coerce=int, help_text=GRADE_HELP
    )
    serious = forms.BooleanField(
        label="Serious: led to hospital, lasting harm, or was life-threatening",
        required=False,
    )
    treatment = forms.CharField(
        label="Treatment given", required=False, max_length=5000, widget=forms.Textarea({"rows": 2})
    )
    outcome = forms.ChoiceField(
        label="Outcome", choices=EventOutcome.choices, initial=EventOutcome.ONGOING
    )
    resolved_on = forms.DateField(label="Resolved on", required=False, widget=DATE)
    day_off_work = forms.BooleanField(label="Needed a day off work", required=False)
    organism = forms.CharField(
        label="Organism, for an infection",
        required=False,
        max_length=200,
        help_text="When known, e.g. Mycobacterium abscessus (these can appear 1 to 12 weeks "
        "after the injections).",
    )
    reporter = forms.ChoiceField(
        label="Reported by", choices=Reporter.choices, initial=Reporter.STAFF
    )
    notes = forms.CharField(
        label="Notes", required=False, max_length=5000, widget=forms.Textarea({"rows": 3})
    )

    def __init__(self, *args: Any, chart: Chart, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["side_effect"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _side_effect_choices()
        areas = [
            (row.body_area.code, row.body_area.label)
            for row in chart.areas.select_related("body_area").order_by("position")
        ]
        area_field = self.fields["body_area"]
        assert isinstance(area_field, forms.ChoiceField)
        area_field.choices = [("", "Not tied to one area"), *dict(areas).items()]
        self.initial.setdefault("onset_on", timezone.localdate())

    def spec(self) -> EventSpec:
        data = self.cleaned_data
        code = data["side_effect"]
        return EventSpec(
            onset_on=data["onset_on"],
            grade=data["grade"],
            side_effect="" if code == OTHER else code,
            other_description=data["other_description"] if code == OTHER else "",
            body_area=data["body_area"],
            serious=data["serious"],
            treatment=data["treatment"],
            outcome=data["outcome"],
            resolved_on=data["resolved_on"],
            day_off_work=data["day_off_work"],
            organism=data["organism"],
            notes=data["notes"],
        )


class EventUpdateForm(forms.Form):
    """How the event stands now; what is unchanged is left as it was."""

    outcome = forms.ChoiceField(label="Outcome", choices=EventOutcome.choices)
    resolved_on = forms.DateField(label="Resolved on", required=False, widget=DATE)
    grade = forms.TypedChoiceField(
        label="Grade", choices=Grade.choices, coerce=int, help_text=GRADE_HELP
    )
    serious = forms.BooleanField(label="Serious", required=False)
    treatment = forms.CharField(
        label="Treatment given", required=False, max_length=5000, widget=forms.Textarea({"rows": 2})
    )
    organism = forms.CharField(label="Organism, for an infection", required=False, max_length=200)
    notes = forms.CharField(
        label="Notes", required=False, max_length=5000, widget=forms.Textarea({"rows": 2})
    )
    reason = forms.CharField(
        label="Why it changes", max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    # The version the form was filled from: every field is sent, so the service refuses to
    # save over a version changed meanwhile.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    NOT_CHANGES = ("reason", "version")

    @classmethod
    def for_event(cls, event: AdverseEvent, data: Any = None) -> EventUpdateForm:
        initial = {
            name: getattr(event, name) for name in cls.base_fields if name not in cls.NOT_CHANGES
        }
        initial["version"] = version_of(event)
        return cls(data, initial=initial, prefix="update")

    def changes(self) -> dict[str, Any]:
        return {
            name: value for name, value in self.cleaned_data.items() if name not in self.NOT_CHANGES
        }


class CausalityForm(forms.Form):
    causality = forms.ChoiceField(
        label="Caused by the treatment?", choices=[("", "Choose…"), *Causality.choices]
    )


class RetractForm(forms.Form):
    reason = forms.CharField(
        label="Why it was recorded in error",
        min_length=MIN_NOTE,
        max_length=2000,
        widget=forms.Textarea({"rows": 2}),
    )


class CloseFlagForm(forms.Form):
    action = forms.ChoiceField(label="Action taken", choices=[("", "Choose…"), *FlagAction.choices])
    note = forms.CharField(
        label="What was done",
        min_length=MIN_NOTE,
        max_length=2000,
        widget=forms.Textarea({"rows": 2}),
    )
