"""A registry with a contaminated lot, scanned: the outbreak the alert tests work on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mesoclinic.clinics.models import Clinic
from mesoclinic.evidence import outbreaks
from mesoclinic.evidence.models import ExposureKind, OutbreakAlert
from mesoclinic.evidence.testing import Registry, RegistrySpec, build_registry


@dataclass(frozen=True)
class Outbreak:
    registry: Registry
    alert: OutbreakAlert  # the planted lot's
    others: list[OutbreakAlert]  # the scan's other alerts (days, injectors, lots)


def outbreak_spec(clinic: Clinic) -> RegistrySpec:
    """Lot 0 infects 9 sessions in 10. Its formula's next lot and an injector gun treated
    some of the same patients, and are alerted too."""
    return RegistrySpec(
        seed=4,
        courses_per_formula=4,
        contaminated_lot=0,
        contaminated_rate=0.9,
        side_effect_rates={},
        start=clinic.today() - timedelta(days=150),
    )


def plant_outbreak(clinic: Clinic) -> Outbreak:
    registry = build_registry(clinic, outbreak_spec(clinic))
    alerts = outbreaks.scan(clinic)
    planted = registry.lots[0]
    [alert] = [a for a in alerts if a.kind == ExposureKind.LOT and a.lot_id == planted.pk]
    return Outbreak(registry, alert, [a for a in alerts if a.pk != alert.pk])
