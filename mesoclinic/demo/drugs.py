"""The drugs demo patients take, with how often and how they take them.

Rates are rough shares of an adult population coming to an aesthetic clinic, by age band; they
aim at a realistic mix for screening to work on (NSAIDs taken as needed, a few anticoagulants
and antiplatelets, many harmless daily drugs), not at epidemiological precision. Names are
written as patients write them on an intake form: generic names, French and British brands.
The ATC code lets tests, and later the screening rules, recognise a drug's class by prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mesoclinic.patients.models import Sex


class Use(Enum):
    LONG_TERM = "long term"  # taken regularly for months or years; sometimes stopped long ago
    AS_NEEDED = "as needed"  # taken now and then: the last dose is what screening asks about
    COURSE = "course"  # a few days' course, recent, finished or still running


@dataclass(frozen=True)
class Drug:
    names: tuple[str, ...]
    atc: str
    doses: tuple[str, ...]
    use: Use
    # Chance that a patient takes it, for ages 18-39, 40-59 and 60-80.
    rates: tuple[float, float, float]
    sexes: tuple[Sex, ...] = tuple(Sex)
    # A patient takes at most one drug of a group (no one is on two anticoagulants).
    group: str = ""


DRUGS: tuple[Drug, ...] = (
    # Pain relief and anti-inflammatories: the pre-care advice is about these.
    Drug(
        ("Ibuprofen", "Advil", "Nurofen"),
        "M01AE01",
        ("200 mg as needed", "400 mg as needed"),
        Use.AS_NEEDED,
        (0.16, 0.14, 0.10),
    ),
    Drug(
        ("Naproxen", "Apranax"),
        "M01AE02",
        ("250 mg twice daily", "550 mg twice daily"),
        Use.COURSE,
        (0.03, 0.04, 0.04),
    ),
    Drug(
        ("Diclofenac gel", "Voltaren Emulgel"),
        "M02AA15",
        ("apply 2-3 times daily",),
        Use.AS_NEEDED,
        (0.02, 0.04, 0.06),
    ),
    Drug(
        ("Aspirin", "Aspegic"),
        "N02BA01",
        ("500 mg as needed", "1 g as needed"),
        Use.AS_NEEDED,
        (0.04, 0.04, 0.03),
    ),
    Drug(
        ("Paracetamol", "Doliprane", "Dafalgan"),
        "N02BE01",
        ("500 mg as needed", "1 g as needed"),
        Use.AS_NEEDED,
        (0.20, 0.20, 0.22),
    ),
    # Antithrombotics: prescribed, never to be stopped for a cosmetic procedure without the
    # prescriber's advice.
    Drug(
        ("Kardegic",), "B01AC06", ("75 mg daily", "160 mg daily"), Use.LONG_TERM, (0.0, 0.02, 0.10)
    ),
    Drug(("Clopidogrel", "Plavix"), "B01AC04", ("75 mg daily",), Use.LONG_TERM, (0.0, 0.005, 0.03)),
    Drug(
        ("Warfarin", "Coumadine"),
        "B01AA03",
        ("dose adjusted to INR",),
        Use.LONG_TERM,
        (0.0, 0.003, 0.015),
        group="anticoagulant",
    ),
    Drug(
        ("Apixaban", "Eliquis"),
        "B01AF02",
        ("2.5 mg twice daily", "5 mg twice daily"),
        Use.LONG_TERM,
        (0.001, 0.005, 0.03),
        group="anticoagulant",
    ),
    Drug(
        ("Rivaroxaban", "Xarelto"),
        "B01AF01",
        ("20 mg daily",),
        Use.LONG_TERM,
        (0.001, 0.004, 0.02),
        group="anticoagulant",
    ),
    # Supplements that some pre-care advice also asks patients to pause.
    Drug(("Fish oil (omega-3)",), "C10AX06", ("1 g daily",), Use.LONG_TERM, (0.03, 0.05, 0.07)),
    Drug(("Vitamin E",), "A11HA03", ("400 IU daily",), Use.LONG_TERM, (0.01, 0.02, 0.02)),
    Drug(("Ginkgo biloba",), "N06DX02", ("120 mg daily",), Use.LONG_TERM, (0.005, 0.01, 0.02)),
    # Everyday drugs that matter to no mesotherapy rule.
    Drug(
        ("Levothyroxine", "Levothyrox"),
        "H03AA01",
        ("50 micrograms daily", "75 micrograms daily", "100 micrograms daily"),
        Use.LONG_TERM,
        (0.03, 0.07, 0.10),
        sexes=(Sex.FEMALE,),
    ),
    Drug(
        ("Levothyroxine",),
        "H03AA01",
        ("50 micrograms daily", "100 micrograms daily"),
        Use.LONG_TERM,
        (0.005, 0.01, 0.02),
        sexes=(Sex.MALE, Sex.OTHER, Sex.UNKNOWN),
    ),
    Drug(
        ("Metformin",),
        "A10BA02",
        ("500 mg twice daily", "850 mg twice daily", "1000 mg twice daily"),
        Use.LONG_TERM,
        (0.005, 0.03, 0.08),
    ),
    Drug(("Cetirizine", "Zyrtec"), "R06AE07", ("10 mg daily",), Use.AS_NEEDED, (0.08, 0.07, 0.05)),
    Drug(
        ("Microgynon 30", "Leeloo", "Oral contraceptive pill"),
        "G03AA07",
        ("1 tablet daily",),
        Use.LONG_TERM,
        (0.30, 0.08, 0.0),
        sexes=(Sex.FEMALE,),
    ),
    Drug(
        ("Atorvastatin", "Tahor"),
        "C10AA05",
        ("10 mg daily", "20 mg daily", "40 mg daily"),
        Use.LONG_TERM,
        (0.005, 0.06, 0.18),
    ),
    Drug(
        ("Omeprazole", "Mopral"),
        "A02BC01",
        ("20 mg daily",),
        Use.LONG_TERM,
        (0.04, 0.07, 0.12),
    ),
    Drug(
        ("Amlodipine",), "C08CA01", ("5 mg daily", "10 mg daily"), Use.LONG_TERM, (0.0, 0.04, 0.12)
    ),
    Drug(
        ("Ramipril",), "C09AA05", ("2.5 mg daily", "5 mg daily"), Use.LONG_TERM, (0.0, 0.03, 0.10)
    ),
    Drug(
        ("Sertraline",),
        "N06AB06",
        ("50 mg daily", "100 mg daily"),
        Use.LONG_TERM,
        (0.04, 0.05, 0.04),
    ),
    Drug(("Escitalopram",), "N06AB10", ("10 mg daily",), Use.LONG_TERM, (0.03, 0.04, 0.03)),
    Drug(
        ("Vitamin D3", "Uvedose"),
        "A11CC05",
        ("1000 IU daily", "100 000 IU every 3 months"),
        Use.LONG_TERM,
        (0.06, 0.08, 0.12),
    ),
    Drug(
        ("Salbutamol inhaler", "Ventolin"),
        "R03AC02",
        ("2 puffs as needed",),
        Use.AS_NEEDED,
        (0.06, 0.05, 0.05),
    ),
    Drug(
        ("Amoxicillin",),
        "J01CA04",
        ("1 g three times daily",),
        Use.COURSE,
        (0.02, 0.02, 0.02),
    ),
    # Drugs of the hair-loss and skin patients an aesthetic clinic sees.
    Drug(
        ("Finasteride",),
        "D11AX10",
        ("1 mg daily",),
        Use.LONG_TERM,
        (0.05, 0.06, 0.02),
        sexes=(Sex.MALE,),
    ),
    Drug(
        ("Spironolactone",),
        "C03DA01",
        ("50 mg daily", "100 mg daily"),
        Use.LONG_TERM,
        (0.02, 0.02, 0.01),
        sexes=(Sex.FEMALE,),
    ),
)
