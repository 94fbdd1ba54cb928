"""Before a session, from home: the check-in questions while their window is open, and the
patient's consent documents (reading, signing with a typed name and an emailed code,
withdrawing).

Every object is looked up through the signed-in patient, so another patient's id is simply
not found; every write goes through the screening and consent services, which audit it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mesoclinic.clinics.models import User
from mesoclinic.consent import content
from mesoclinic.consent import services as consent
from mesoclinic.consent.models import ConsentDocument, ConsentStatus, WithdrawalHow
from mesoclinic.courses.models import Appointment, AppointmentStatus
from mesoclinic.patients.models import Patient
from mesoclinic.portal.rules import rules_of
from mesoclinic.screening import services as screening
from mesoclinic.screening.models import Answer, CheckIn
from mesoclinic.screening.receivers import SCREENED_KINDS

# --- the check-in window ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInWindow:
    """When a session's questions may be answered from home: from the clinic's
    ``check_in_opens_hours`` before it until it starts."""

    opens_at: datetime
    closes_at: datetime

    def state(self, now: datetime) -> str:
        """Where ``now`` falls: "not_yet", "open" or "closed"."""
        if now < self.opens_at:
            return "not_yet"
        if now < self.closes_at:
            return "open"
        return "closed"


def check_in_window(appointment: Appointment) -> CheckInWindow:
    hours = rules_of(appointment.clinic).check_in_opens_hours
    return CheckInWindow(appointment.starts_at - timedelta(hours=hours), appointment.starts_at)


def own_appointment(patient: Patient, pk: int) -> Appointment:
    """One of ``patient``'s own appointments, or 404."""
    found = (
        Appointment.objects.filter(pk=pk, patient_id=patient.pk, clinic_id=patient.clinic_id)
        .select_related("clinic", "practitioner", "plan__indication")
        .first()
    )
    if found is None:
        raise Http404("No such appointment.")
    return found


def is_checkable(appointment: Appointment) -> bool:
    """A booked session (or maintenance session): the kinds screening runs for."""
    return appointment.status == AppointmentStatus.BOOKED and appointment.kind in SCREENED_KINDS


def refusal(appointment: Appointment, now: datetime) -> str | None:
    """Why the questions cannot be answered now, in the patient's words, or None."""
    if appointment.status != AppointmentStatus.BOOKED:
        return _("This session is not booked, so there are no questions to answer for it.")
    if not is_checkable(appointment):
        return _("There are no questions to answer before this appointment.")
    window = check_in_window(appointment)
    state = window.state(now)
    if state == "not_yet":
        opens = timezone.localtime(window.opens_at, appointment.clinic.tz)
        return _("The questions open on %(day)s at %(time)s.") % {
            "day": _day(opens.date()),
            "time": opens.strftime("%H:%M"),
        }
    if state == "closed":
        return _(
            "Your session has started, so the questions are closed. The clinic will ask them "
            "in person."
        )
    return None


def _day(day: date) -> str:
    return date_format(day, "l j F Y")


def latest_check_in(appointment: Appointment) -> CheckIn | None:
    return appointment.check_ins.order_by("-answered_at", "-pk").first()


def nsaid_in_window(check_in: CheckIn, appointment: Appointment) -> bool:
    """Whether the patient reported an aspirin or other anti-inflammatory painkiller taken
    within the clinic's stop window before the session (the days screening counts)."""
    if check_in.nsaid_last_week != Answer.YES or check_in.nsaid_last_dose is None:
        return False
    days = (screening.session_date(appointment) - check_in.nsaid_last_dose).days
    return 0 <= days <= appointment.clinic.nsaid_window_days()


def submit_check_in(
    appointment: Appointment,
    answers: screening.CheckInAnswers,
    actor: User,
    *,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> CheckIn:
    """Record the patient's answers (into their record, screening again) while the window is
    open; refused with the reason otherwise."""
    reason = refusal(appointment, now or timezone.now())
    if reason is not None:
        raise ValidationError(reason)
    return screening.check_in(appointment, answers, actor, request=request)


YES_NO = [(Answer.YES.value, gettext_lazy("Yes")), (Answer.NO.value, gettext_lazy("No"))]
PREGNANCY_CHOICES = [
    *YES_NO,
    (Answer.NOT_APPLICABLE.value, gettext_lazy("This does not apply to me")),
]


def _radios() -> forms.RadioSelect:
    return forms.RadioSelect(attrs={"class": "choices"})


class CheckInForm(forms.Form):
    """The questions of ``screening.services.CheckInAnswers`` in plain words."""

    nsaid_last_week = forms.ChoiceField(choices=YES_NO, widget=_radios())
    nsaid_name = forms.CharField(
        label=gettext_lazy("If yes: which one?"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("The name on the box, for example Advil or Aspirin."),
    )
    nsaid_last_dose = forms.DateField(
        label=gettext_lazy("If yes: the day you last took it"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    new_medications = forms.CharField(
        label=gettext_lazy("Any new medicines since your last visit?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One medicine on each line. Leave it empty if there is nothing new."
        ),
    )
    pregnant = forms.ChoiceField(
        label=gettext_lazy("Are you pregnant, or could you be?"),
        choices=PREGNANCY_CHOICES,
        widget=_radios(),
    )
    notes = forms.CharField(
        label=gettext_lazy("Anything else you would like the clinic to know?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, window_days: int, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["nsaid_last_week"].label = _(
            "In the last %(days)s days, have you taken aspirin, ibuprofen or another "
            "anti-inflammatory painkiller?"
        ) % {"days": window_days}
        self.fields["nsaid_last_week"].help_text = _(
            "Paracetamol does not count. Many cold and flu remedies contain ibuprofen or "
            "aspirin: check the box."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if data.get("nsaid_last_week") == Answer.YES:
            if not (data.get("nsaid_name") or "").strip():
                self.add_error("nsaid_name", _("Please say which painkiller you took."))
            if data.get("nsaid_last_dose") is None and "nsaid_last_dose" not in self.errors:
                self.add_error("nsaid_last_dose", _("Please give the day you last took it."))
        return data

    def answers(self) -> screening.CheckInAnswers:
        data = self.cleaned_data
        took = data["nsaid_last_week"] == Answer.YES
        return screening.CheckInAnswers(
            nsaid_last_week=Answer(data["nsaid_last_week"]),
            pregnant=Answer(data["pregnant"]),
            # A "no" keeps no name or day the patient may have typed before changing it.
            nsaid_name=data["nsaid_name"] if took else "",
            nsaid_last_dose=data["nsaid_last_dose"] if took else None,
            new_medications=data["new_medications"],
            notes=data["notes"],
        )


def initial_from(check_in: CheckIn | None) -> dict[str, Any]:
    """The form filled with the answers given before, but for the new medicines: those are
    on the record already, and sending them again would add them twice."""
    if check_in is None:
        return {}
    return {
        "nsaid_last_week": check_in.nsaid_last_week,
        "nsaid_name": check_in.nsaid_name,
        "nsaid_last_dose": check_in.nsaid_last_dose,
        "pregnant": check_in.pregnant,
        "notes": check_in.notes,
    }


def errors_into(form: forms.Form, error: ValidationError) -> None:
    """A service's refusal onto the form: on the field it names when the form has it."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for each in errors:
                message = " ".join(each.messages)
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


# --- consent ------------------------------------------------------------------------------


STATUS_WORDS = {
    ConsentStatus.DRAFT: gettext_lazy("Waiting for your signature"),
    ConsentStatus.SIGNED: gettext_lazy("Signed"),
    ConsentStatus.WITHDRAWN: gettext_lazy("Withdrawn"),
    ConsentStatus.OUTDATED: gettext_lazy("No longer current: your course plan has changed"),
}


@dataclass(frozen=True)
class DocumentRow:
    document: ConsentDocument
    status: ConsentStatus

    @property
    def status_words(self) -> str:
        return str(STATUS_WORDS[self.status])


def own_documents(patient: Patient) -> list[DocumentRow]:
    """Every consent document of the patient's courses, newest course and version first."""
    documents = (
        ConsentDocument.objects.filter(patient_id=patient.pk, clinic_id=patient.clinic_id)
        .select_related("plan__indication", "clinic", "withdrawal")
        .order_by("-plan__created_at", "-plan_id", "-version")
    )
    fingerprints: dict[int, str] = {}
    rows = []
    for document in documents:
        if document.plan_id not in fingerprints:
            fingerprints[document.plan_id] = content.plan_fingerprint(document.plan)
        rows.append(
            DocumentRow(document, consent.status_of(document, fingerprints[document.plan_id]))
        )
    return rows


def own_document(patient: Patient, pk: int) -> ConsentDocument:
    """One of ``patient``'s own consent documents, or 404."""
    found = (
        ConsentDocument.objects.filter(pk=pk, patient_id=patient.pk, clinic_id=patient.clinic_id)
        .select_related("plan__indication", "clinic", "patient")
        .first()
    )
    if found is None:
        raise Http404("No such consent document.")
    return found


@dataclass(frozen=True)
class PendingCode:
    sent_to: str  # masked
    sent_at: datetime
    expires_at: datetime


def pending_code(document: ConsentDocument, now: datetime) -> PendingCode | None:
    """The code emailed for ``document`` that may still be typed, if any."""
    latest = document.codes.order_by("-created_at", "-pk").first()
    if (
        latest is None
        or latest.used_at is not None
        or latest.expires_at <= now
        or latest.attempts >= consent.CODE_ATTEMPTS
        or latest.content_sha256 != document.content_sha256
    ):
        return None
    return PendingCode(consent.masked_email(latest.sent_to), latest.created_at, latest.expires_at)


# A patient owes no reason for withdrawing; the service wants one written down.
NO_REASON = "None given (withdrawn by the patient in the portal)."


def withdraw_online(
    document: ConsentDocument, reason: str, actor: User, *, request: HttpRequest | None = None
) -> Any:
    """The patient withdraws their signed consent themselves, in the portal."""
    if consent.status_of(document) != ConsentStatus.SIGNED:
        raise ValidationError(_("Only a signed consent that is still current can be withdrawn."))
    return consent.withdraw(
        document,
        reason.strip() or NO_REASON,
        actor,
        how=WithdrawalHow.PORTAL,
        request=request,
    )


class SignForm(forms.Form):
    typed_name = forms.CharField(
        label=gettext_lazy("Your full name"),
        max_length=200,
        help_text=gettext_lazy("Your first name and family name, as the clinic has them."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    code = forms.CharField(
        label=gettext_lazy("The code we emailed you"),
        max_length=12,
        help_text=gettext_lazy("6 digits."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    agree = forms.BooleanField(
        label=gettext_lazy("I have read the document above and I agree to it."),
        error_messages={"required": gettext_lazy("Please tick the box to confirm you agree.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are you withdrawing? (you do not have to say)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand, and I want to withdraw my consent."),
        error_messages={"required": gettext_lazy("Please tick the box to confirm.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
