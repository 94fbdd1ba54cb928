"""Forms of the course and booking pages. They parse what was typed; ``plans``, ``booking``
and ``rota`` decide what is acceptable, so that the pages and the API refuse the same things
with the same sentences. Times typed are the clinic's local times."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses.models import ConcurrentTreatmentKind, Room, Weekday
from mesoclinic.courses.schedule import GroupBy, Span
from mesoclinic.formulas.models import FormulaVersion
from mesoclinic.patients.forms import DateInput

DEFAULT_PROTOCOL = "default"


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        # Appointments start on the quarter hour; the picker steps by it.
        super().__init__(format="%H:%M", attrs={"step": 900, **kwargs.pop("attrs", {})}, **kwargs)


def _textarea(rows: int = 2) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class RoomField(forms.ChoiceField):
    """A room among those the view fetched once: a page of many forms draws them all
    without a query each."""

    def __init__(self, rooms: list[Room], empty_label: str = "No room", **kwargs: Any) -> None:
        self.rooms = {str(room.pk): room for room in rooms}
        choices = [("", empty_label), *((key, str(room)) for key, room in self.rooms.items())]
        super().__init__(choices=choices, required=False, label="Room", **kwargs)

    def clean(self, value: Any) -> Room | None:
        key = super().clean(value)
        return self.rooms.get(key) if key else None


def protocol_summary(protocol: Protocol) -> str:
    return (
        f"{protocol.label}: {protocol.sessions_min}-{protocol.sessions_max} sessions every "
        f"{protocol.interval_days} ± {protocol.interval_tolerance_days} days, "
        f"{protocol.session_minutes} minutes each, then {protocol.maintenance_per_year_min}-"
        f"{protocol.maintenance_per_year_max} maintenance sessions a year."
    )


def protocol_values(protocol: Protocol) -> dict[str, int]:
    """The values a plan takes from ``protocol`` when none is given (as ``create_plan``)."""
    return {
        "sessions_planned": protocol.sessions_max,
        "interval_days": protocol.interval_days,
        "tolerance_days": protocol.interval_tolerance_days,
        "session_minutes": protocol.session_minutes,
        "maintenance_per_year": protocol.maintenance_per_year_min,
    }


class PlanForm(forms.Form):
    indication = forms.ModelChoiceField(queryset=Indication.objects.filter(retired=False))
    areas = forms.ModelMultipleChoiceField(
        queryset=BodyArea.objects.filter(retired=False),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        required=False,
        label="Body areas",
    )
    formula_version = forms.ModelChoiceField(
        queryset=FormulaVersion.objects.none(),
        required=False,
        label="Formula",
        empty_label="Not chosen yet",
        help_text="The current version of each of this clinic's formulas.",
    )
    practitioner = forms.ModelChoiceField(
        queryset=User.objects.none(), label="Responsible practitioner"
    )
    protocol = forms.ModelChoiceField(queryset=Protocol.objects.filter(retired=False))
    sessions_planned = forms.IntegerField(label="Number of sessions")
    interval_days = forms.IntegerField(label="Days between sessions")
    tolerance_days = forms.IntegerField(label="Tolerance (± days)")
    session_minutes = forms.IntegerField(label="Session length (minutes)")
    maintenance_per_year = forms.IntegerField(label="Maintenance sessions a year")
    adjustment_reason = forms.CharField(
        widget=_textarea(),
        required=False,
        label="Reason for departing from the protocol",
        help_text="Needed when a value above differs from the protocol's.",
    )
    goals = forms.CharField(widget=_textarea(3), required=False)

    def __init__(self, *args: Any, clinic: Clinic, practitioners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        latest = (
            FormulaVersion.objects.filter(formula=OuterRef("formula"))
            .values("formula")
            .annotate(top=Max("number"))
            .values("top")
        )
        self.fields["formula_version"].queryset = (  # type: ignore[attr-defined]
            FormulaVersion.objects.filter(formula__clinic=clinic, number=Subquery(latest))
            .select_related("formula")
            .order_by("formula__name")
        )
        self.fields["practitioner"].queryset = practitioners  # type: ignore[attr-defined]
        protocols = self.fields["protocol"].queryset  # type: ignore[attr-defined]
        self.fields["protocol"].help_text = " ".join(protocol_summary(p) for p in protocols)

    @classmethod
    def initial_for(cls, user: User, practitioners: Any) -> dict[str, Any]:
        protocol = (
            Protocol.objects.filter(code=DEFAULT_PROTOCOL, retired=False).first()
            or Protocol.objects.filter(retired=False).first()
        )
        initial: dict[str, Any] = {}
        if protocol is not None:
            initial = {"protocol": protocol, **protocol_values(protocol)}
        if practitioners.filter(pk=user.pk).exists():
            initial["practitioner"] = user
        return initial


class ConcurrentTreatmentForm(forms.Form):
    kind = forms.ChoiceField(choices=ConcurrentTreatmentKind.choices, label="Treatment")
    description = forms.CharField(
        max_length=300, required=False, help_text="Product, dose, area, who gave it."
    )
    given_on = forms.DateField(widget=DateInput(), required=False, label="Given on")


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=_textarea())


class ProposeForm(forms.Form):
    start_on = forms.DateField(widget=DateInput(), label="First session on or after")
    room = RoomField([])  # the clinic's, set per form

    def __init__(self, *args: Any, clinic: Clinic, rooms: list[Room], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["room"] = RoomField(rooms)
        tomorrow = date.fromordinal(clinic.today().toordinal() + 1)
        self.fields["start_on"].widget.attrs["min"] = tomorrow.isoformat()

    def clean_start_on(self) -> date:
        # Proposals are whole days of free slots; today's would include times already past.
        start: date = self.cleaned_data["start_on"]
        if start <= self.clinic.today():
            raise ValidationError("Propose a course from tomorrow on.")
        return start


class BookCourseForm(ProposeForm):
    """A proposal accepted: the slots shown, so that exactly those are booked."""

    slots = forms.CharField(widget=forms.HiddenInput)


class SlotForm(forms.Form):
    """A start in the clinic's local time, still to come."""

    day = forms.DateField(widget=DateInput(), label="Date")
    time = forms.TimeField(widget=TimeInput(), label="Time")
    room = RoomField([])  # the clinic's, set per form
    room_empty_label = "No room"

    def __init__(self, *args: Any, clinic: Clinic, rooms: list[Room], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["room"] = RoomField(rooms, empty_label=self.room_empty_label)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "day" in data and "time" in data:
            starts_at = datetime.combine(data["day"], data["time"], tzinfo=self.clinic.tz)
            if starts_at <= timezone.now():
                raise ValidationError("Choose a time still to come.")
            data["starts_at"] = starts_at
        return data


class MoveForm(SlotForm):
    reason = forms.CharField(
        widget=_textarea(),
        required=False,
        help_text="Needed when the new date breaks the course's interval.",
    )
    room_empty_label = "Keep the room"


class AttendanceForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("attended", "Attended"), ("no_show", "Did not attend")])


class RoomForm(forms.Form):
    name = forms.CharField(max_length=100)


class RoomActiveForm(forms.Form):
    active = forms.BooleanField(required=False)


class _PractitionerForm(forms.Form):
    practitioner = forms.ModelChoiceField(queryset=User.objects.none())

    def __init__(self, *args: Any, practitioners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = practitioners  # type: ignore[attr-defined]


class HoursForm(_PractitionerForm):
    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int)
    starts = forms.TimeField(widget=TimeInput(), label="From")
    ends = forms.TimeField(widget=TimeInput(), label="To")


class LeaveForm(_PractitionerForm):
    starts_on = forms.DateField(widget=DateInput(), label="First day away")
    ends_on = forms.DateField(widget=DateInput(), label="Last day away")
    reason = forms.CharField(max_length=200, required=False)


class ScheduleForm(forms.Form):
    """The schedule's choices, from lists the view has already fetched: validating and
    drawing the form costs no query."""

    span = forms.ChoiceField(choices=[(Span.DAY, "Day"), (Span.WEEK, "Week")], label="Show")
    day = forms.DateField(widget=DateInput(), label="Date")
    group_by = forms.ChoiceField(
        choices=[(GroupBy.PRACTITIONER, "Practitioner"), (GroupBy.ROOM, "Room")],
        label="Columns (day)",
    )
    practitioner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    room = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    cancelled = forms.BooleanField(required=False, label="Cancelled too")

    def __init__(
        self, *args: Any, practitioners: list[User], rooms: list[Room], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = [  # type: ignore[attr-defined]
            ("", "All practitioners"),
            *((p.pk, str(p)) for p in practitioners),
        ]
        self.fields["room"].choices = [  # type: ignore[attr-defined]
            ("", "All rooms"),
            *((r.pk, str(r)) for r in rooms),
        ]
