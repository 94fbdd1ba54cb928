"""Screening follows the schedule: each booking or move of a session is screened."""

from __future__ import annotations

from typing import Any

from mesoclinic.clinics.models import User
from mesoclinic.courses.models import Appointment, AppointmentKind
from mesoclinic.screening.models import Stage
from mesoclinic.screening.services import run_screening

SCREENED_KINDS = (AppointmentKind.SESSION, AppointmentKind.MAINTENANCE)


def on_appointment_changed(
    sender: Any, appointment: Appointment, change: str, actor: User, **_: Any
) -> None:
    if change in ("booked", "moved") and appointment.kind in SCREENED_KINDS:
        run_screening(appointment, Stage.BOOKING, actor)
