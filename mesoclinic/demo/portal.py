"""The demo's portal accounts: one patient of each clinic can sign in to the portal with the
demo password, chosen for having the most to show (a session coming, a recent session to
follow up, photos and measurements)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q

from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.courses.models import Appointment, AppointmentStatus
from mesoclinic.demo.accounts import DEMO_PASSWORD
from mesoclinic.followup.models import FollowUp
from mesoclinic.patients.models import Patient, PortalAccount


def _showcase(clinic: Clinic, now: datetime) -> Patient | None:
    coming = Appointment.objects.filter(
        patient=OuterRef("pk"), status=AppointmentStatus.BOOKED, starts_at__gt=now
    )
    to_follow_up = Chart.objects.filter(
        patient=OuterRef("pk"),
        signed_at__isnull=False,
        ended_at__gt=now - timedelta(days=7),
    ).exclude(Exists(FollowUp.objects.filter(chart=OuterRef("pk"))))
    return (
        Patient.objects.filter(clinic=clinic, erased_at__isnull=True)
        .exclude(email="")
        .annotate(
            coming=Exists(coming),
            to_follow_up=Exists(to_follow_up),
            photos=Count("charts__photos", distinct=True),
            measured=Count(
                "measurements", filter=Q(measurements__retracted_at__isnull=True), distinct=True
            ),
        )
        .order_by("-coming", "-to_follow_up", "-photos", "-measured", "pk")
        .first()
    )


def build_portal_accounts(clinics: list[Clinic], today: date) -> int:
    """``today``: the demo's day, which its appointments were built around."""
    made = 0
    for clinic in clinics:
        patient = _showcase(clinic, datetime.combine(today, time(12), tzinfo=clinic.tz))
        if patient is None:
            continue
        user = User.objects.create_user(
            username=patient.email.lower(),
            email=patient.email.lower(),
            password=DEMO_PASSWORD,
            role=Role.PATIENT,
            clinic=clinic,
            first_name=patient.given_name,
            last_name=patient.family_name,
        )
        PortalAccount.objects.create(patient=patient, user=user)
        made += 1
    return made


def demo_patient_logins() -> list[tuple[str, str]]:
    """The demo portal's sign-ins (an email address each), described for the CLI."""
    accounts = PortalAccount.objects.select_related("user", "patient__clinic").order_by("pk")
    return [
        (
            account.user.username,
            f"Patient: {account.patient}, {account.patient.clinic.name}, "
            f"in the portal at /portal/ ({account.patient.get_preferred_language_display()})",
        )
        for account in accounts
    ]
