"""Concentration units and the checks that refuse values that cannot be right.

Mass concentrations convert to mg/mL so that the same ingredient given in mg/mL by one product
and in mcg/mL or % by another adds up; a percentage is weight per volume (1 % = 10 mg/mL, the
pharmacy convention for injectables). International units measure activity, not mass, so they
never convert to or from a mass unit.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models


class ConcentrationUnit(models.TextChoices):
    MG_PER_ML = "mg/mL", "mg/mL"
    MCG_PER_ML = "mcg/mL", "mcg/mL (micrograms)"
    PERCENT = "%", "% (w/v: grams per 100 mL)"
    IU_PER_ML = "IU/mL", "IU/mL (international units)"


# mg/mL per one of each mass unit.
MG_PER_ML_FACTOR: dict[str, Decimal] = {
    ConcentrationUnit.MG_PER_ML: Decimal(1),
    ConcentrationUnit.MCG_PER_ML: Decimal("0.001"),
    ConcentrationUnit.PERCENT: Decimal(10),
}

# A solute cannot weigh more than a gram per millilitre of solution in anything injectable
# (that is 100 % w/v): a higher mass concentration is a unit slip, typically mg typed for mcg.
MAX_MG_PER_ML = Decimal(1000)
# A component volume above this is a typing slip (a whole session rarely uses 20 mL).
MAX_VOLUME_ML = Decimal(1000)


def is_mass_unit(unit: str) -> bool:
    return unit in MG_PER_ML_FACTOR


def to_mg_per_ml(concentration: Decimal, unit: str) -> Decimal:
    return concentration * MG_PER_ML_FACTOR[unit]


def validate_concentration(concentration: Decimal | None, unit: str, *, label: str = "") -> None:
    """Refuse a concentration that makes no sense in its unit, saying why and what was meant."""
    prefix = f"{label}: " if label else ""
    if concentration is None:
        raise ValidationError(f"{prefix}a concentration is required.")
    if not unit:
        raise ValidationError(f"{prefix}choose the unit of the concentration.")
    if unit not in ConcentrationUnit.values:
        choices = ", ".join(ConcentrationUnit.values)
        raise ValidationError(
            f"{prefix}{unit!r} is not a concentration unit; use one of {choices}."
        )
    if not concentration.is_finite() or concentration <= 0:
        raise ValidationError(
            f"{prefix}the concentration must be above zero (got {concentration})."
        )
    if unit == ConcentrationUnit.PERCENT and concentration > 100:
        raise ValidationError(
            f"{prefix}{concentration} % is over 100 %; a percentage cannot exceed 100."
        )
    if is_mass_unit(unit) and to_mg_per_ml(concentration, unit) > MAX_MG_PER_ML:
        hints: dict[str, str] = {
            ConcentrationUnit.MG_PER_ML: " Did you mean mcg/mL?",
            ConcentrationUnit.MCG_PER_ML: " Did you mean a smaller number of mcg/mL?",
        }
        hint = hints.get(unit, "")
        raise ValidationError(
            f"{prefix}{concentration} {unit} is more than 1 g per mL, which no solution "
            f"holds.{hint}"
        )


def validate_volume(volume_ml: Decimal | None, *, label: str = "volume") -> None:
    if volume_ml is None:
        raise ValidationError(f"The {label} is required.")
    if not volume_ml.is_finite() or volume_ml <= 0:
        raise ValidationError(f"The {label} must be above zero mL (got {volume_ml} mL).")
    if volume_ml > MAX_VOLUME_ML:
        raise ValidationError(
            f"The {label} of {volume_ml} mL is more than {MAX_VOLUME_ML} mL; check the unit."
        )


def validate_proportion(proportion: Decimal | None) -> None:
    if proportion is None:
        raise ValidationError("The proportion is required.")
    if not proportion.is_finite() or proportion <= 0:
        raise ValidationError(f"The proportion must be above 0 % (got {proportion} %).")
    if proportion > 100:
        raise ValidationError(f"The proportion {proportion} % is over 100 %.")
