"""Whether a session's chart may start: the one function the chart calls before it opens.

It screens again (the record may have changed since check-in), then asks for no open block
(every block overridden, where the rule allows it) and a valid consent for the course.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.clinics.models import User
from mesoclinic.consent.services import valid_consent
from mesoclinic.courses.models import Appointment, AppointmentStatus
from mesoclinic.screening.models import Screening, Stage
from mesoclinic.screening.services import FindingView, open_blocks, run_screening


@dataclass(frozen=True)
class ChartGate:
    screening: Screening
    blocks: list[FindingView] = field(default_factory=list)
    consent_problem: str = ""

    @property
    def allowed(self) -> bool:
        return not self.blocks and not self.consent_problem

    @property
    def reasons(self) -> list[str]:
        reasons = [
            f"Blocked by “{view.finding.rule.label}”: {view.finding.evidence}. "
            + (
                "A practitioner may override it with a reason."
                if view.finding.overridable
                else "It cannot be overridden."
            )
            for view in self.blocks
        ]
        if self.consent_problem:
            reasons.append(self.consent_problem)
        return reasons


def chart_gate(
    appointment: Appointment, actor: User, *, request: HttpRequest | None = None
) -> ChartGate:
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        raise ValidationError(
            f"No chart for an appointment that is {appointment.get_status_display().lower()}."
        )
    screening = run_screening(appointment, Stage.CHART, actor, request=request)
    consent_problem = ""
    if appointment.plan is None:
        consent_problem = "The appointment belongs to no course, so no consent covers it."
    elif valid_consent(appointment.plan, timezone.now()) is None:
        consent_problem = (
            "No valid consent for this course: the patient has not signed one, has withdrawn "
            "it, or the course plan changed since they signed."
        )
    return ChartGate(screening, open_blocks(screening), consent_problem)


def require_chart_start(
    appointment: Appointment, actor: User, *, request: HttpRequest | None = None
) -> Screening:
    """Raise a ValidationError listing every reason the chart may not start; return the
    screening that cleared it."""
    gate = chart_gate(appointment, actor, request=request)
    if not gate.allowed:
        raise ValidationError(gate.reasons)
    return gate.screening
