"""Matching a drug name as typed on an intake form to the catalogue's drug classes.

Patients write "Advil 400 mg", "ibuprofene" or "Aspégic"; screening needs the class. Names are
compared in the catalogue's normal form (no case, no accents), first exactly, then allowing a
typo. A name that matches nothing is kept as typed and marked unresolved: an unknown drug is
information for the practitioner, never a reason to refuse the record.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass

from mesoclinic.catalogue.models import DrugClass, DrugName, normalise_name

# A one-letter typo in a five-letter brand ("advel") scores 0.8; unrelated drug names score
# well below. A wrong match is shown beside the typed name ("resolved as ..."), so staff see it.
FUZZY_CUTOFF = 0.8
# Below this length a single letter changes too much of the word to guess.
FUZZY_MIN_LENGTH = 4
# Strength and form words that follow the name: "400 mg", "200mg", "1%", "x2".
_DOSE_WORD = re.compile(r"^(\d[\d.,]*\s*(mg|g|mcg|µg|ug|ml|%|iu|ui)?|mg|g|mcg|ml|%|x\d+)$")


@dataclass(frozen=True)
class Resolution:
    typed: str
    matched_name: str  # the catalogue's spelling; empty when unresolved
    drug_classes: tuple[DrugClass, ...]

    @property
    def resolved(self) -> bool:
        return bool(self.drug_classes)


def _candidates(normalised: str) -> list[str]:
    """The whole name, the name without its dose words, and its first word, in that order:
    "voltaren emulgel 1%" must reach the gel before the first word reaches the tablets."""
    words = normalised.split()
    without_dose = " ".join(w for w in words if not _DOSE_WORD.match(w))
    found: list[str] = []
    for candidate in (normalised, without_dose, words[0] if words else ""):
        if candidate and candidate not in found:
            found.append(candidate)
    return found


def _catalogue_names() -> dict[str, list[DrugName]]:
    names: dict[str, list[DrugName]] = defaultdict(list)
    rows = DrugName.objects.filter(retired=False, drug_class__retired=False).select_related(
        "drug_class"
    )
    for row in rows.order_by("drug_class__code"):
        names[row.normalised_name].append(row)
    return names


def resolve_medication_name(name: str) -> Resolution:
    names = _catalogue_names()
    candidates = _candidates(normalise_name(name))
    match = next((c for c in candidates if c in names), None)
    if match is None:
        for candidate in candidates:
            if len(candidate) < FUZZY_MIN_LENGTH:
                continue
            close = difflib.get_close_matches(candidate, names.keys(), n=1, cutoff=FUZZY_CUTOFF)
            if close:
                match = close[0]
                break
    if match is None:
        return Resolution(typed=name, matched_name="", drug_classes=())
    rows = names[match]
    return Resolution(
        typed=name, matched_name=rows[0].name, drug_classes=tuple(r.drug_class for r in rows)
    )
