"""The facts the shipped data files must hold (from the seed and DOMAIN.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesoclinic.catalogue.models import (
    BodyArea,
    DrugClass,
    DrugName,
    Indication,
    IngredientClass,
    OutcomeScale,
    PreCareRule,
    Protocol,
    ScaleKind,
    SideEffect,
)

pytestmark = pytest.mark.usefixtures("catalogue")

INDICATIONS = {
    "localised-fat": "circumference",
    "cellulite": "hexsel-css",
    "wrinkles-and-lines": "lemperle",
    "loose-skin": "laxity-grade",
    "body-recontouring": "circumference",
    "pigmentation": "mmasi",
    "alopecia": "hair-density",
    "acne-scarring": "goodman-baron",
    "dull-skin": "gais",
    "pain-relief": "pain-nrs",
}


def test_ten_indications_each_with_its_primary_scale() -> None:
    found = dict(Indication.objects.values_list("code", "primary_scale__code"))
    assert found == INDICATIONS


def test_thin_evidence_is_stated() -> None:
    alopecia = Indication.objects.get(code="alopecia")
    assert "little evidence" in alopecia.evidence_note
    fat = Indication.objects.get(code="localised-fat")
    assert "PMID 18349597" in fat.evidence_note
    assert "1952" in Indication.objects.get(code="pain-relief").description
    assert "Pistor" in Indication.objects.get(code="pain-relief").description


def test_every_entry_has_its_common_fields() -> None:
    for model in (Indication, BodyArea, IngredientClass, SideEffect, Protocol, DrugClass):
        for entry in model.objects.all():
            assert entry.label and entry.description and entry.source, entry.code
            assert entry.data_version == 1
            assert not entry.retired


def test_the_seven_seed_areas_and_the_face_sub_areas_with_snomed_codes() -> None:
    areas = {a.code: a for a in BodyArea.objects.select_related("parent")}
    expected = {
        "abdomen": ("818983003", None, "front"),
        "thighs": ("68367000", None, "front"),
        "buttocks": ("46862004", None, "back"),
        "hips": ("29836001", None, "front"),
        "legs": ("30021000", None, "front"),
        "arms": ("40983000", None, "back"),
        "face": ("89545001", None, "face"),
        "scalp": ("41695006", None, "scalp"),
        "neck": ("45048000", None, "face"),
        "forehead": ("68698007", "face", "face"),
        "cheeks": ("36141000", "face", "face"),
        "chin": ("23747009", "face", "face"),
        "submental": ("34926004", "face", "face"),
        "nasolabial-folds": ("37108007", "face", "face"),
        "vertex": ("61719002", "scalp", "scalp"),
    }
    found = {
        code: (area.snomed_code, area.parent.code if area.parent else None, area.view)
        for code, area in areas.items()
    }
    assert found == expected
    assert areas["thighs"].paired and not areas["abdomen"].paired


def test_ingredient_classes() -> None:
    assert set(IngredientClass.objects.values_list("code", flat=True)) == {
        "vitamins",
        "minerals",
        "coenzymes",
        "enzymes",
        "hormones",
        "plant-extracts",
        "amino-acids",
        "drug",
        "other",
    }


def test_the_twelve_side_effects_and_their_expected_course() -> None:
    effects = {e.code: e for e in SideEffect.objects.all()}
    assert set(effects) == {
        "scars",
        "nausea",
        "sensitivity",
        "bruising",
        "infection",
        "pain",
        "swelling",
        "itching",
        "redness",
        "injection-site-bumps",
        "dark-patches",
        "rash",
    }
    assert effects["bruising"].settles_within_hours == 24
    assert effects["swelling"].settles_within_hours == 24
    assert effects["infection"].always_flag
    assert not effects["bruising"].always_flag
    assert "12 weeks" in effects["infection"].expected_course


def test_the_default_protocol() -> None:
    protocol = Protocol.objects.get(code="default")
    assert (protocol.sessions_min, protocol.sessions_max) == (6, 8)
    assert (protocol.interval_days, protocol.interval_tolerance_days) == (14, 3)
    assert protocol.session_minutes == 30
    assert protocol.anaesthetic_cream_optional
    assert (protocol.maintenance_per_year_min, protocol.maintenance_per_year_max) == (1, 2)


def test_the_precare_rule_covers_nsaids_and_aspirin_for_seven_days() -> None:
    rule = PreCareRule.objects.get(code="no-nsaids-before-session")
    assert rule.window_days == 7
    covered = set(rule.drug_classes.values_list("atc_code", flat=True))
    assert {"M01A", "M01B", "N02BA", "B01AC06"} <= covered
    assert all(rule.drug_classes.values_list("bleeding_risk", flat=True))
    assert "7 days" in rule.message_for()
    assert "10 days" in rule.message_for(10)
    assert "aspirin" in rule.patient_message
    assert "never stop it without your doctor's advice" in rule.patient_message


def test_drug_classes_with_atc_codes_and_bleeding_risk() -> None:
    classes = dict(DrugClass.objects.values_list("atc_code", "bleeding_risk"))
    assert set(classes) == {
        "M01A",
        "M01B",
        "M02A",
        "N02BA",
        "N02BE",
        "B01AC06",
        "B01AA",
        "B01AB",
        "B01AC",
        "B01AE",
        "B01AF",
        "B01AX",
    }
    assert all(risk for atc, risk in classes.items() if atc.startswith("B01"))
    assert classes["M01A"] and classes["N02BA"]


@pytest.mark.parametrize(
    ("name", "kind", "atc_code"),
    [
        ("ibuprofen", "ingredient", "M01A"),
        ("Advil", "brand", "M01A"),
        ("Nurofen", "brand", "M01A"),
        ("Motrin", "brand", "M01A"),
        ("naproxen", "ingredient", "M01A"),
        ("Aleve", "brand", "M01A"),
        ("diclofenac", "ingredient", "M01A"),
        ("Voltaren", "brand", "M01A"),
        ("aspirin", "ingredient", "N02BA"),
        ("acetylsalicylic acid", "ingredient", "N02BA"),
        ("Aspro", "brand", "N02BA"),
        ("aspirin", "ingredient", "B01AC06"),
        ("Kardegic", "brand", "B01AC06"),
        ("warfarin", "ingredient", "B01AA"),
        ("Coumadin", "brand", "B01AA"),
        ("apixaban", "ingredient", "B01AF"),
        ("Eliquis", "brand", "B01AF"),
        ("rivaroxaban", "ingredient", "B01AF"),
        ("Xarelto", "brand", "B01AF"),
        ("dabigatran", "ingredient", "B01AE"),
        ("Pradaxa", "brand", "B01AE"),
        ("clopidogrel", "ingredient", "B01AC"),
        ("Plavix", "brand", "B01AC"),
        ("enoxaparin", "ingredient", "B01AB"),
        ("Lovenox", "brand", "B01AB"),
        ("heparin", "ingredient", "B01AB"),
    ],
)
def test_drug_names(name: str, kind: str, atc_code: str) -> None:
    drug_name = DrugName.objects.get(name=name, drug_class__atc_code=atc_code)
    assert drug_name.kind == kind
    assert drug_name.normalised_name == name.lower()


@pytest.mark.parametrize(
    ("code", "low", "high", "step"),
    [
        ("nurnberger-muller", 0, 3, 1),
        ("hexsel-css", 0, 15, 1),
        ("glogau", 1, 4, 1),
        ("fitzpatrick-wrinkle", 1, 3, 1),
        ("lemperle", 0, 5, 1),
        ("masi", 0, 48, Decimal("0.1")),
        ("mmasi", 0, 24, Decimal("0.1")),
        ("hamilton-norwood", 1, 7, 1),
        ("ludwig", 1, 3, 1),
        ("sinclair", 1, 5, 1),
        ("goodman-baron", 1, 4, 1),
        ("gais", 1, 5, 1),
        ("pain-nrs", 0, 10, 1),
        ("satisfaction", 0, 10, 1),
    ],
)
def test_scale_ranges(code: str, low: int, high: int, step: Decimal) -> None:
    scale = OutcomeScale.objects.get(code=code)
    assert (scale.min_value, scale.max_value, scale.step) == (low, high, step)


def test_ordinal_scales_label_every_level() -> None:
    glogau = OutcomeScale.objects.get(code="glogau")
    assert list(glogau.levels.values_list("value", "label")) == [
        (1, "Type I"),
        (2, "Type II"),
        (3, "Type III"),
        (4, "Type IV"),
    ]
    gais = OutcomeScale.objects.get(code="gais")
    assert gais.kind == ScaleKind.ORDINAL
    assert gais.levels.get(value=1).label == "Very much improved"
    assert gais.levels.get(value=5).label == "Worse"
    assert gais.direction == "lower-is-better"
    assert OutcomeScale.objects.get(code="gais-reversed").direction == "higher-is-better"


def test_scales_codes_and_the_indications_they_serve() -> None:
    nrs = OutcomeScale.objects.get(code="pain-nrs")
    assert nrs.loinc_code == "72514-3"
    assert nrs.minimal_important_difference == 2
    assert OutcomeScale.objects.get(code="waist-circumference").loinc_code == "8280-0"
    assert OutcomeScale.objects.get(code="body-weight").loinc_code == "29463-7"
    for code in ("gais", "pain-nrs", "satisfaction"):
        assert OutcomeScale.objects.get(code=code).all_indications
    hexsel = OutcomeScale.objects.get(code="hexsel-css")
    assert list(hexsel.indications.values_list("code", flat=True)) == ["cellulite"]
    assert OutcomeScale.objects.get(code="circumference").unit == "cm"
