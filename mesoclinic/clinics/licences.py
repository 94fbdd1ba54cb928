"""Whether a practitioner may practise on a day: the one function booking and signing call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mesoclinic.clinics.models import Licence, Role, User


@dataclass(frozen=True)
class LicenceCheck:
    ok: bool
    reason: str
    licence: Licence | None = None


def licence_check(practitioner: User, day: date) -> LicenceCheck:
    """A practitioner may be booked or sign for ``day`` only with a verified licence that
    covers that day; the reason says which of those is missing."""
    if practitioner.role != Role.PRACTITIONER:
        return LicenceCheck(False, f"{practitioner} is not a practitioner.")
    licences = list(practitioner.licences.all())
    if not licences:
        return LicenceCheck(False, f"{practitioner} has no licence on record.")
    covering = [licence for licence in licences if licence.covers(day)]
    if not covering:
        return LicenceCheck(False, f"No licence of {practitioner} is valid on {day:%d %b %Y}.")
    verified = [licence for licence in covering if licence.is_verified]
    if not verified:
        return LicenceCheck(
            False,
            f"The licence of {practitioner} valid on {day:%d %b %Y} has not been verified.",
            covering[0],
        )
    return LicenceCheck(True, "Licence valid and verified.", verified[0])
