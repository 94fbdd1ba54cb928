"""The filters every evidence page shares: indication, period and practitioner.

Read from the query string by a form, so that a bad value is a form error on the page and the
report is not drawn, rather than a silently ignored filter.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

from django import forms
from django.conf import settings
from django.http import HttpRequest

from mesoclinic.catalogue.models import Indication
from mesoclinic.clinics.models import Role, User
from mesoclinic.evidence import scope

# Dates outside these make no sense for a clinic, and at the calendar's ends a day's bounds
# in UTC would overflow.
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)


@dataclass(frozen=True)
class Filters:
    clinic_ids: list[int]
    indication: Indication | None = None
    start: date | None = None  # inclusive, in the clinic's calendar
    end: date | None = None  # inclusive
    practitioner: User | None = None
    # Researchers see practitioners by number, not by name.
    pseudonymous: bool = False


def pseudonym(kind: str, key: object) -> str:
    """A stable label that names nothing: a keyed hash, not the database id or serial number,
    so that it cannot be matched with another source."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"evidence:{kind}:{key}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{kind} {digest[:6].upper()}"


def practitioner_label(user: User, *, pseudonymous: bool) -> str:
    return pseudonym("Practitioner", user.pk) if pseudonymous else str(user)


class _PractitionerField(forms.ModelChoiceField):
    pseudonymous = False

    def label_from_instance(self, obj: User) -> str:  # type: ignore[override]
        return practitioner_label(obj, pseudonymous=self.pseudonymous)


class FilterForm(forms.Form):
    indication = forms.ModelChoiceField(
        queryset=Indication.objects.order_by("label"),
        to_field_name="code",
        required=False,
        empty_label="Every indication",
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))
    practitioner = _PractitionerField(
        queryset=User.objects.none(), required=False, empty_label="Every practitioner"
    )

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request.GET or None)
        self.clinic_ids = scope.clinic_ids(request)
        self.pseudonymous = scope.is_researcher(request)
        field = self.fields["practitioner"]
        assert isinstance(field, _PractitionerField)
        field.pseudonymous = self.pseudonymous
        field.queryset = User.objects.filter(
            clinic_id__in=self.clinic_ids, role=Role.PRACTITIONER
        ).order_by("last_name", "first_name", "pk")

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day is not None and not EARLIEST <= day <= LATEST:
                # add_error also drops it from the cleaned data.
                self.add_error(name, f"Give a date between {EARLIEST.year} and {LATEST.year}.")
        if start and end and start > end:
            raise forms.ValidationError("The period's start is after its end.")
        return cleaned

    def filters(self) -> Filters | None:
        """The filters, or ``None`` when the form has errors (an unbound form has none)."""
        if self.is_bound and not self.is_valid():
            return None
        data = self.cleaned_data if self.is_bound else {}
        return Filters(
            clinic_ids=self.clinic_ids,
            indication=data.get("indication"),
            start=data.get("start"),
            end=data.get("end"),
            practitioner=data.get("practitioner"),
            pseudonymous=self.pseudonymous,
        )
