"""After a session, from home: the patient's signed sessions and where their 24-hour
follow-up stands, the follow-up questions, and reporting a side effect at any time (with a
photo). Every write goes through ``followup.services``, which raises the flags the clinic
sees on its dashboard at once, and audits it.

Grades in the patient's words: a patient says how much something bothers them, from "a
little" to "a lot", which are grades 1 to 3 of ``followup.models.Grade``. Grades 4 and 5
(life-threatening, death) are not a patient's choice on a form: the urgent advice sends them
to the emergency number instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts import photos as chart_photos
from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import User
from mesoclinic.followup import services
from mesoclinic.followup.models import (
    AdverseEvent,
    EventPhoto,
    Flag,
    FollowUp,
    FollowUpChannel,
    Grade,
    Reporter,
)
from mesoclinic.followup.photos import add_event_photo
from mesoclinic.patients.models import Patient

# --- the patient's sessions -----------------------------------------------------------------


def own_chart(patient: Patient, pk: int) -> Chart:
    """One of ``patient``'s own signed sessions, or 404."""
    found = (
        Chart.objects.filter(
            pk=pk,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            signed_at__isnull=False,
            ended_at__isnull=False,
        )
        .select_related("appointment", "clinic", "practitioner")
        .first()
    )
    if found is None:
        raise Http404("No such session.")
    return found


def follow_up_state(chart: Chart, now: datetime, answered: bool) -> str:
    """Where the session's 24-hour questions stand: "answered"; "not_yet" (they open 24
    hours after the session ended); "due"; "closed" (more than 30 days after)."""
    if answered:
        return "answered"
    assert chart.ended_at is not None
    if now < chart.ended_at + services.FOLLOW_UP_AFTER:
        return "not_yet"
    if now > chart.ended_at + services.FOLLOW_UP_WITHIN:
        return "closed"
    return "due"


@dataclass(frozen=True)
class SessionRow:
    chart: Chart
    follow_up: FollowUp | None
    state: str

    @property
    def opens_at(self) -> datetime:
        assert self.chart.ended_at is not None
        return self.chart.ended_at + services.FOLLOW_UP_AFTER


def sessions(patient: Patient, now: datetime) -> tuple[list[SessionRow], list[SessionRow]]:
    """The patient's signed sessions, newest first: those of the last 30 days (whose 24-hour
    follow-up may be answered), and the earlier ones (a late reaction can still be reported
    for them)."""
    charts = (
        Chart.objects.filter(
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            signed_at__isnull=False,
            ended_at__isnull=False,
        )
        .select_related("appointment", "practitioner")
        .order_by("-ended_at", "-pk")
    )
    answered = {
        follow_up.chart_id: follow_up
        for follow_up in FollowUp.objects.filter(chart__in=[c.pk for c in charts])
    }
    recent: list[SessionRow] = []
    older: list[SessionRow] = []
    for chart in charts:
        assert chart.ended_at is not None
        follow_up = answered.get(chart.pk)
        row = SessionRow(chart, follow_up, follow_up_state(chart, now, follow_up is not None))
        (recent if chart.ended_at > now - services.FOLLOW_UP_WITHIN else older).append(row)
    return recent, older


# --- the 24-hour follow-up ------------------------------------------------------------------

QUESTION_WORDS = {
    "bruising": gettext_lazy("Any bruising?"),
    "swelling": gettext_lazy("Any swelling?"),
    "redness": gettext_lazy("Any redness?"),
    "pain": gettext_lazy("Any pain?"),
    "itching": gettext_lazy("Any itching?"),
    "infection": gettext_lazy(
        "Any sign of infection: heat, pus, redness that spreads, or a fever?"
    ),
}

# What the patient chooses: none, or grades 1 to 3 in their words.
AMOUNT_CHOICES = [
    (0, gettext_lazy("None")),
    (Grade.MILD.value, gettext_lazy("A little: I notice it, but it does not get in my way")),
    (
        Grade.MODERATE.value,
        gettext_lazy(
            "Moderate: it needs simple care, such as a cold pack, or it stops me doing some things"
        ),
    ),
    (
        Grade.SEVERE.value,
        gettext_lazy("A lot: it stops me doing my usual things or looking after myself"),
    ),
]
# How a recorded grade reads to the patient (staff may record 4 or 5 by phone).
AMOUNT_WORDS = {
    0: gettext_lazy("None"),
    Grade.MILD.value: gettext_lazy("A little"),
    Grade.MODERATE.value: gettext_lazy("Moderate"),
    Grade.SEVERE.value: gettext_lazy("A lot"),
    Grade.LIFE_THREATENING.value: gettext_lazy("Severe"),
    Grade.DEATH.value: gettext_lazy("Severe"),
}


def question_words(code: str) -> str:
    fallback = dict(services.FOLLOW_UP_QUESTIONS).get(code, code)
    return str(QUESTION_WORDS.get(code, fallback))


def follow_up_refusal(chart: Chart, now: datetime) -> str | None:
    """Why the 24-hour questions cannot be answered now, in the patient's words, or None."""
    state = follow_up_state(chart, now, FollowUp.objects.filter(chart=chart).exists())
    if state == "answered":
        return _("You have already answered these questions for this session. Thank you.")
    if state == "not_yet":
        assert chart.ended_at is not None
        opens = timezone.localtime(chart.ended_at + services.FOLLOW_UP_AFTER, chart.clinic.tz)
        return _("These questions open on %(day)s at %(time)s, a day after your session.") % {
            "day": _day(opens.date()),
            "time": opens.strftime("%H:%M"),
        }
    if state == "closed":
        return _(
            "These questions were for the days just after this session. If you notice "
            "anything now, report it as a side effect."
        )
    return None


def _day(day: date) -> str:
    return date_format(day, "l j F Y")


def submit_follow_up(
    chart: Chart,
    answers: dict[str, int],
    actor: User,
    *,
    day_off_work: bool,
    notes: str,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> FollowUp:
    """The patient's answers to the 24-hour questions, once, while they are open."""
    reason = follow_up_refusal(chart, now or timezone.now())
    if reason is not None:
        raise ValidationError(reason)
    return services.record_follow_up(
        chart,
        answers,
        actor,
        FollowUpChannel.PORTAL,
        day_off_work=day_off_work,
        notes=notes,
        request=request,
    )


def clinic_told(follow_up: FollowUp) -> bool:
    """Whether an answer raised a flag for the clinic."""
    return Flag.objects.filter(adverse_event__follow_up=follow_up).exists()


def answer_rows(follow_up: FollowUp) -> list[dict[str, str]]:
    return [
        {
            "question": question_words(code),
            "answer": str(AMOUNT_WORDS.get(grade, grade)),
        }
        for code, grade in follow_up.answers.items()
    ]


def _radios() -> forms.RadioSelect:
    return forms.RadioSelect(attrs={"class": "choices"})


YES_NO = [("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))]


class FollowUpForm(forms.Form):
    """One radio group per question of ``FOLLOW_UP_QUESTIONS``, in the order asked."""

    day_off_work = forms.ChoiceField(
        label=gettext_lazy("Did you need to take time off work or your usual activities?"),
        choices=YES_NO,
        widget=_radios(),
    )
    notes = forms.CharField(
        label=gettext_lazy("Anything else you would like the clinic to know?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        questions: dict[str, forms.Field] = {
            code: forms.TypedChoiceField(
                label=question_words(code),
                choices=AMOUNT_CHOICES,
                coerce=int,
                widget=_radios(),
                error_messages={"required": _("Please choose an answer.")},
            )
            for code, _question in services.FOLLOW_UP_QUESTIONS
        }
        self.fields = {**questions, **self.fields}

    def answers(self) -> dict[str, int]:
        return {code: self.cleaned_data[code] for code, _q in services.FOLLOW_UP_QUESTIONS}


# --- reporting a side effect ----------------------------------------------------------------

OTHER = "other"
SIDE_EFFECT_WORDS = {
    "bruising": gettext_lazy("Bruising (blue or purple marks)"),
    "swelling": gettext_lazy("Swelling"),
    "redness": gettext_lazy("Redness"),
    "pain": gettext_lazy("Pain or soreness"),
    "itching": gettext_lazy("Itching"),
    "sensitivity": gettext_lazy("Skin that feels tender or sensitive"),
    "injection-site-bumps": gettext_lazy("Bumps or lumps where the injections were"),
    "rash": gettext_lazy("A rash"),
    "nausea": gettext_lazy("Feeling sick"),
    "dark-patches": gettext_lazy("Dark patches of skin"),
    "infection": gettext_lazy("Signs of infection: heat, pus, redness that spreads, or a fever"),
    "scars": gettext_lazy("Scars"),
}
HEIC_FOR_PATIENTS = gettext_lazy(
    "This photo is in the iPhone's own format (HEIC), which cannot be read here. Choose it "
    "again from this page, or set the iPhone camera to “Most Compatible”, and send it again."
)


def side_effect_words(effect: SideEffect) -> str:
    return str(SIDE_EFFECT_WORDS.get(effect.code, effect.label))


def event_words(event: AdverseEvent) -> str:
    """What was reported, in the patient's words."""
    if event.side_effect is not None:
        return side_effect_words(event.side_effect)
    return event.other_description


class ReportForm(forms.Form):
    side_effect = forms.ChoiceField(
        label=gettext_lazy("What have you noticed?"),
        widget=_radios(),
        error_messages={"required": gettext_lazy("Please choose what you have noticed.")},
    )
    other_description = forms.CharField(
        label=gettext_lazy("If something else: what is it?"),
        required=False,
        max_length=300,
    )
    body_area = forms.ChoiceField(
        label=gettext_lazy("Where is it?"), required=False, widget=_radios()
    )
    onset_on = forms.DateField(
        label=gettext_lazy("When did it start?"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": gettext_lazy("Please give the day it started.")},
    )
    grade = forms.TypedChoiceField(
        label=gettext_lazy("How much does it bother you?"),
        choices=AMOUNT_CHOICES[1:],
        coerce=int,
        widget=_radios(),
        error_messages={"required": gettext_lazy("Please choose how much it bothers you.")},
    )
    notes = forms.CharField(
        label=gettext_lazy("Anything else you would like the clinic to know?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photo = forms.FileField(
        label=gettext_lazy("A photo (if you can)"),
        required=False,
        help_text=gettext_lazy(
            "JPEG, PNG or WebP, up to 15 MB. We remove where and when it was taken, and "
            "anything else stored in the file, before keeping it."
        ),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args: Any, chart: Chart, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        effects = SideEffect.objects.filter(retired=False).order_by("pk")
        effect_field, area_field = self.fields["side_effect"], self.fields["body_area"]
        assert isinstance(effect_field, forms.ChoiceField)
        assert isinstance(area_field, forms.ChoiceField)
        effect_field.choices = [
            *[(effect.code, side_effect_words(effect)) for effect in effects],
            (OTHER, _("Something else")),
        ]
        areas = {
            row.body_area.code: row.body_area.label
            for row in chart.areas.select_related("body_area").order_by("position")
        }
        area_field.choices = [
            *areas.items(),
            ("", _("Somewhere else, or I am not sure")),
        ]
        self.first_day = services.session_day(chart)
        self.today = chart.clinic.today()
        self.fields["onset_on"].widget.attrs.update(
            min=self.first_day.isoformat(), max=self.today.isoformat()
        )
        self.initial.setdefault("body_area", "")
        self.initial.setdefault("onset_on", self.today)

    def clean_onset_on(self) -> date:
        onset: date = self.cleaned_data["onset_on"]
        if onset < self.first_day:
            raise forms.ValidationError(
                _("It cannot have started before your session, on %(day)s.")
                % {"day": _day(self.first_day)}
            )
        if onset > self.today:
            raise forms.ValidationError(_("The day it started cannot be in the future."))
        return onset

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if data.get("side_effect") == OTHER and not (data.get("other_description") or "").strip():
            self.add_error("other_description", _("Please say what you have noticed."))
        return data

    def spec(self) -> services.EventSpec:
        data = self.cleaned_data
        other = data["side_effect"] == OTHER
        return services.EventSpec(
            onset_on=data["onset_on"],
            grade=data["grade"],
            side_effect="" if other else data["side_effect"],
            other_description=data["other_description"] if other else "",
            body_area=data["body_area"],
            notes=data["notes"],
        )


def submit_report(
    chart: Chart,
    spec: services.EventSpec,
    upload: UploadedFile | None,
    actor: User,
    *,
    request: HttpRequest | None = None,
) -> AdverseEvent:
    """The patient's report of a side effect, with its photo, in one transaction: a photo
    that cannot be kept leaves no report either, so that the patient can send both again."""
    with transaction.atomic():
        event = services.report_event(chart, spec, actor, Reporter.PATIENT, request=request)
        if upload is not None:
            try:
                add_event_photo(event, upload, actor, request=request)
            except ValidationError as error:
                messages = [
                    str(HEIC_FOR_PATIENTS) if message == chart_photos.HEIC else message
                    for message in error.messages
                ]
                raise ValidationError({"photo": messages}) from None
    return event


def own_event(patient: Patient, pk: int) -> AdverseEvent:
    """One of ``patient``'s own reports, or 404: not an event the clinic recorded (its notes
    are the clinic's), nor one retracted."""
    found = (
        AdverseEvent.objects.filter(
            pk=pk,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            reporter=Reporter.PATIENT,
            retracted_at__isnull=True,
        )
        .select_related("side_effect", "body_area", "chart__appointment")
        .first()
    )
    if found is None:
        raise Http404("No such report.")
    return found


def own_event_photo(patient: Patient, pk: int) -> EventPhoto:
    """A photo of one of ``patient``'s own side effects, or 404."""
    found = (
        EventPhoto.objects.filter(
            pk=pk, event__patient_id=patient.pk, event__clinic_id=patient.clinic_id
        )
        .select_related("event")
        .first()
    )
    if found is None:
        raise Http404("No such photo.")
    return found


def own_reports(patient: Patient) -> list[AdverseEvent]:
    """The side effects the patient reported themselves, newest first."""
    return list(
        AdverseEvent.objects.filter(
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            reporter=Reporter.PATIENT,
            follow_up__isnull=True,
            retracted_at__isnull=True,
        )
        .select_related("side_effect", "chart__appointment")
        .order_by("-reported_at", "-pk")[:20]
    )
