"""The demo clinics' formula library: products, lots, formulas and a little lot history.

Each clinic stocks fictional products (made-up names and manufacturers), holds a few lots of
each, and its practitioners have written formulas for five indications, at least two
practitioners each. Some lot uses are recorded for demo patients ("demo history"), so that the
pages have something to trace: one lot was then recalled and the patients who received it have
contact tasks, one lot is close to its expiry, one has expired, and one formula was edited
after its first use, so it has two versions. Everything is written through
``formulas.services``, drawing from the seeded streams of ``generator.stream``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.demo.accounts import LONDON, PARIS
from mesoclinic.formulas import services
from mesoclinic.formulas.models import (
    ContactStatus,
    Formula,
    Ingredient,
    Lot,
    Presentation,
    Product,
)
from mesoclinic.formulas.services import ComponentSpec, Content
from mesoclinic.patients.models import Patient

HISTORY_REFERENCE = "demo history"
# Sessions of a course are two weeks apart (DOMAIN.md).
SESSION_INTERVAL = timedelta(days=14)


class MissingCatalogue(Exception):
    """The catalogue (with the shared ingredients) is not loaded; the message says what to do."""


# --- what the clinics stock ---------------------------------------------------------------

LIPOLYSIS_STATUS = (
    "Pharmacy preparation made to a prescription; no marketing authorisation. Phosphatidylcholine "
    "with deoxycholate is not authorised for dissolving fat in many jurisdictions: it is not "
    "approved in the US, where lipodissolve products received FDA warning letters in 2010, and "
    "deoxycholic acid alone is approved there only for fat under the chin. Check the national "
    "rules before use."
)
PREPARATION_STATUS = (
    "Pharmacy preparation made to a prescription; no marketing authorisation for injection into "
    "the skin."
)
UNKNOWN_STATUS = "Regulatory status unknown: the supplier gives none. Ask for it before use."


@dataclass(frozen=True)
class ProductPlan:
    key: str
    names: tuple[str, str]  # in Paris, in London; empty where the clinic does not stock it
    manufacturers: tuple[str, str]
    presentation: Presentation
    volume_ml: str
    contents: tuple[tuple[str, str, str], ...]  # shared ingredient name, concentration, unit
    regulatory_status: str
    lot_code: str
    storage: str = "Store below 25 °C."


PRODUCTS: tuple[ProductPlan, ...] = (
    ProductPlan(
        "lipo",
        ("Lipocontour PC/DC", "Contourline PC/DC"),
        ("Laboratoires Vellane", "Blackfriars Compounding Pharmacy"),
        Presentation.VIAL,
        "5",
        (("Phosphatidylcholine", "5", "%"), ("Sodium deoxycholate", "2.5", "%")),
        LIPOLYSIS_STATUS,
        "PC",
        "Store at 2-8 °C; do not freeze.",
    ),
    ProductPlan(
        "carnitine",
        ("L-Carnitine 1 g/5 mL", "L-Carnitine 1 g/5 mL"),
        ("Pharmalys Santé", "Thameside Pharma"),
        Presentation.AMPOULE,
        "5",
        (("L-carnitine", "200", "mg/mL"),),
        "As for injectable L-carnitine medicines: authorised for carnitine deficiency, given into "
        "a vein. Injection into the skin for fat or cellulite is off-label.",
        "LCA",
    ),
    ProductPlan(
        "caffeine",
        ("Caféine 2,5 %", "Caffeine 2.5 %"),
        ("Officine Delorme", "Blackfriars Compounding Pharmacy"),
        Presentation.AMPOULE,
        "5",
        (("Caffeine", "2.5", "%"),),
        PREPARATION_STATUS,
        "CAF",
    ),
    ProductPlan(
        "silicon",
        ("Silicéa 0,4 %", "Silica Tone 0.4 %"),
        ("Laboratoires Vellane", "Kestrel Aesthetics Ltd"),
        Presentation.AMPOULE,
        "5",
        (("Organic silicon", "4", "mg/mL"),),
        UNKNOWN_STATUS,
        "SIL",
    ),
    ProductPlan(
        "artichoke",
        ("Cynara drainage", "Cynara Drain"),
        ("Botanica Derm", "Greenwold Botanicals"),
        Presentation.AMPOULE,
        "2",
        (("Artichoke extract", "20", "mg/mL"), ("Melilot extract", "5", "mg/mL")),
        UNKNOWN_STATUS,
        "CYN",
    ),
    ProductPlan(
        "dmae",
        ("DMAE 3 %", "DMAE 3 %"),
        ("Officine Delorme", "Blackfriars Compounding Pharmacy"),
        Presentation.AMPOULE,
        "5",
        (("DMAE", "3", "%"),),
        PREPARATION_STATUS,
        "DMA",
    ),
    ProductPlan(
        "booster",
        ("Éclat HA Vitamines", "Radiance HA Complex"),
        ("Laboratoires Vellane", "Kestrel Aesthetics Ltd"),
        Presentation.VIAL,
        "3",
        (
            ("Hyaluronic acid", "5", "mg/mL"),
            ("Ascorbic acid", "100", "mcg/mL"),
            ("Niacinamide", "40", "mcg/mL"),
            ("Dexpanthenol", "30", "mcg/mL"),
            ("Pyridoxine", "5", "mcg/mL"),
            ("Glycine", "200", "mcg/mL"),
            ("L-proline", "120", "mcg/mL"),
            ("Glutathione", "20", "mcg/mL"),
            ("Zinc", "5", "mcg/mL"),
        ),
        "The supplier states that it is CE-marked as a medical device for skin hydration; the "
        "certificate has not been checked.",
        "HA",
        "Store at 2-25 °C, away from light.",
    ),
    ProductPlan(
        "vitamin-c",
        ("Vitamine C 500 mg/5 mL", "Vitamin C 500 mg/5 mL"),
        ("Pharmalys Santé", "Thameside Pharma"),
        Presentation.AMPOULE,
        "5",
        (("Ascorbic acid", "100", "mg/mL"),),
        "As for injectable vitamin C medicines: authorised for deficiency, given into a vein or a "
        "muscle. Injection into the skin for radiance or pigmentation is off-label.",
        "VC",
        "Store below 25 °C, away from light.",
    ),
    ProductPlan(
        "tranexamic",
        ("Acide tranexamique 500 mg/5 mL", "Tranexamic acid 500 mg/5 mL"),
        ("Pharmalys Santé", "Thameside Pharma"),
        Presentation.AMPOULE,
        "5",
        (("Tranexamic acid", "100", "mg/mL"),),
        "As for injectable tranexamic acid medicines: authorised to reduce bleeding, given into a "
        "vein. Injection into the skin for melasma is off-label; prescriber only.",
        "TXA",
    ),
    ProductPlan(
        "glutathione",
        ("Glutathion 600 mg/5 mL", "Glutathione 600 mg/5 mL"),
        ("Officine Delorme", "Blackfriars Compounding Pharmacy"),
        Presentation.VIAL,
        "5",
        (("Glutathione", "120", "mg/mL"),),
        "Pharmacy preparation made to a prescription. Not authorised for lightening the skin; "
        "check the national rules before use.",
        "GSH",
        "Store at 2-8 °C.",
    ),
    ProductPlan(
        "lidocaine",
        ("Lidocaïne 1 %", "Lidocaine 1 %"),
        ("Pharmalys Santé", "Thameside Pharma"),
        Presentation.AMPOULE,
        "5",
        (("Lidocaine", "1", "%"),),
        "As for lidocaine 1 % injection medicines: an authorised local anaesthetic; prescriber "
        "only.",
        "LID",
    ),
    ProductPlan(
        "minoxidil",
        ("Minoxidil 0,5 % injectable", "Minoxidil 0.5 % for injection"),
        ("Officine Delorme", "Blackfriars Compounding Pharmacy"),
        Presentation.VIAL,
        "5",
        (("Minoxidil", "0.5", "%"),),
        "Pharmacy preparation made to a prescription. Minoxidil is authorised for hair loss as a "
        "scalp solution or foam (and as tablets), not as an injection; prescriber only.",
        "MNX",
    ),
    ProductPlan(
        "finasteride",
        ("Finastéride 0,05 %", ""),
        ("Officine Delorme", ""),
        Presentation.VIAL,
        "2",
        (("Finasteride", "0.05", "%"),),
        "Pharmacy preparation made to a prescription. Finasteride is authorised for male hair "
        "loss as tablets, not as an injection; never for anyone who is or may become pregnant. "
        "Prescriber only.",
        "FIN",
    ),
    ProductPlan(
        "dutasteride",
        ("", "Dutasteride 0.01 %"),
        ("", "Blackfriars Compounding Pharmacy"),
        Presentation.VIAL,
        "2",
        (("Dutasteride", "0.01", "%"),),
        "Pharmacy preparation made to a prescription. Dutasteride is authorised as capsules for "
        "an enlarged prostate (and for male hair loss in a few countries), not as an injection; "
        "never for anyone who is or may become pregnant. Prescriber only.",
        "DUT",
    ),
    ProductPlan(
        "hair-botanical",
        ("Capilia Botanique", "Follicle Botanical Serum"),
        ("Botanica Derm", "Greenwold Botanicals"),
        Presentation.VIAL,
        "5",
        (
            ("Saw palmetto extract", "2", "mg/mL"),
            ("Ginkgo biloba extract", "1", "mg/mL"),
            ("Biotin", "100", "mcg/mL"),
            ("Dexpanthenol", "10", "mg/mL"),
            ("Zinc", "50", "mcg/mL"),
            ("Copper tripeptide-1", "20", "mcg/mL"),
        ),
        "Regulatory status unknown: the supplier describes it as a cosmetic serum, and whether it "
        "may be injected has not been established.",
        "BOT",
    ),
    ProductPlan(
        "saline",
        ("Chlorure de sodium 0,9 %", "Sodium chloride 0.9 %"),
        ("Pharmalys Santé", "Thameside Pharma"),
        Presentation.AMPOULE,
        "10",
        (("Sodium chloride", "0.9", "%"),),
        "As for sodium chloride 0.9 % injection medicines: an authorised diluent.",
        "NACL",
    ),
)
SUPPLIERS = {PARIS: "Répartition Médicale Est", LONDON: "Northgate Medical Supplies"}


# --- what their practitioners wrote -------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A component: ``ml`` of a product, or of a compounded shared ingredient."""

    ml: str
    product: str = ""
    ingredient: str = ""
    concentration: str = ""
    unit: str = ""


@dataclass(frozen=True)
class FormulaPlan:
    name: str
    author: str
    indications: tuple[str, ...]
    areas: tuple[str, ...]
    total_ml: str
    parts: tuple[Part, ...]
    notes: str = ""


@dataclass(frozen=True)
class HistoryPlan:
    """Sessions recorded from the oldest lot of ``product`` with a formula, for a few patients."""

    formula: str
    product: str
    patients: int


@dataclass(frozen=True)
class ClinicPlan:
    formulas: tuple[FormulaPlan, ...]
    history: tuple[HistoryPlan, ...]
    # The formula edited after its first use (a new version), with its new parts and total.
    edited: str
    edit_parts: tuple[Part, ...]
    edit_total_ml: str
    edit_notes: str
    recalled: str  # product whose history lot is recalled
    near_expiry: str  # product whose oldest lot expires within three weeks
    expired: str  # product whose oldest lot has just expired


LIPO = (Part("2", "lipo"), Part("2", "carnitine"))
LIPO_WITH_LIDOCAINE = (*LIPO, Part("0.4", "lidocaine"))
RECALL_REASON = (
    "Supplier recall notice: the sterility of this batch cannot be assured after a fault at "
    "the filling site. Contact every patient who received it and ask about lumps, redness, pain "
    "or discharge at the injection sites, which can appear up to 12 weeks later."
)
CONTACT_NOTE = (
    "Called: no symptoms so far. Asked to call us about any lump, redness or discharge at the "
    "injection sites in the next 12 weeks."
)

PLANS: dict[str, ClinicPlan] = {
    PARIS: ClinicPlan(
        formulas=(
            FormulaPlan(
                "Lipolyse abdomen",
                "dr.lefebvre",
                ("localised-fat", "body-recontouring"),
                ("abdomen", "hips"),
                "4",
                LIPO,
                "Deep linear technique, 13 mm needle; 6 sessions two weeks apart.",
            ),
            FormulaPlan(
                "Ovale du visage",
                "dr.moreau",
                ("localised-fat",),
                ("submental",),
                "2",
                (Part("1.6", "lipo"), Part("0.4", "lidocaine")),
                "Submental fat only; 0.2 mL per point, points 1 cm apart.",
            ),
            FormulaPlan(
                "Cellulite cuisses drainage",
                "dr.lefebvre",
                ("cellulite",),
                ("thighs", "buttocks"),
                "10",
                (
                    Part("3", "caffeine"),
                    Part("2", "artichoke"),
                    Part("3", "silicon"),
                    Part("0.5", ingredient="Hyaluronidase", concentration="150", unit="IU/mL"),
                ),
                "Nappage, 4 mm; the rest of the volume is saline.",
            ),
            FormulaPlan(
                "Cellulite fermeté",
                "dr.moreau",
                ("cellulite", "loose-skin"),
                ("thighs", "hips"),
                "8",
                (Part("3", "silicon"), Part("2", "dmae"), Part("3", "carnitine")),
            ),
            FormulaPlan(
                "Éclat visage",
                "dr.moreau",
                ("dull-skin", "wrinkles-and-lines"),
                ("face", "neck"),
                "4",
                (Part("3", "booster"), Part("1", "vitamin-c")),
                "Papules, 1-2 mm; about 100 points for the face.",
            ),
            FormulaPlan(
                "Revitalisation cou",
                "dr.okafor",
                ("dull-skin", "loose-skin"),
                ("neck",),
                "4",
                (Part("3", "booster"), Part("1", "dmae")),
            ),
            FormulaPlan(
                "Dépigmentant mélasma",
                "dr.moreau",
                ("pigmentation",),
                ("cheeks", "forehead"),
                "3",
                (Part("1", "tranexamic"), Part("1", "vitamin-c"), Part("1", "glutathione")),
                "Avoid sun exposure between sessions.",
            ),
            FormulaPlan(
                "Taches pigmentaires",
                "dr.okafor",
                ("pigmentation",),
                ("cheeks",),
                "4",
                (Part("1", "tranexamic"), Part("3", "booster")),
            ),
            FormulaPlan(
                "Alopécie androgénétique",
                "dr.okafor",
                ("alopecia",),
                ("scalp", "vertex"),
                "4",
                (Part("2", "minoxidil"), Part("1", "finasteride"), Part("0.5", "lidocaine")),
                "Men only: finasteride must not reach anyone who is or may become pregnant.",
            ),
            FormulaPlan(
                "Cuir chevelu botanique",
                "dr.moreau",
                ("alopecia",),
                ("scalp",),
                "5",
                (Part("4", "hair-botanical"), Part("1", "vitamin-c")),
                "Evidence for hair loss is weak: say so when proposing it.",
            ),
        ),
        history=(
            HistoryPlan("Lipolyse abdomen", "lipo", 5),
            HistoryPlan("Éclat visage", "booster", 3),
            HistoryPlan("Cuir chevelu botanique", "hair-botanical", 2),
        ),
        edited="Lipolyse abdomen",
        edit_parts=LIPO_WITH_LIDOCAINE,
        edit_total_ml="4.4",
        edit_notes="Lidocaine added: several patients found the first sessions painful.",
        recalled="lipo",
        near_expiry="vitamin-c",
        expired="saline",
    ),
    LONDON: ClinicPlan(
        formulas=(
            FormulaPlan(
                "Submental contour",
                "dr.patel",
                ("localised-fat",),
                ("submental",),
                "2.4",
                (Part("2", "lipo"), Part("0.4", "lidocaine")),
                "0.2 mL per point, points 1 cm apart; at most 10 mL a session.",
            ),
            FormulaPlan(
                "Abdomen and flanks lipolytic",
                "dr.hughes",
                ("localised-fat", "body-recontouring"),
                ("abdomen", "hips"),
                "4",
                LIPO,
            ),
            FormulaPlan(
                "Thigh cellulite",
                "dr.hughes",
                ("cellulite",),
                ("thighs",),
                "8",
                (Part("3", "caffeine"), Part("2", "artichoke"), Part("3", "carnitine")),
            ),
            FormulaPlan(
                "Buttock cellulite firming",
                "dr.patel",
                ("cellulite", "loose-skin"),
                ("buttocks",),
                "8",
                (Part("3", "silicon"), Part("2", "dmae"), Part("3", "saline")),
            ),
            FormulaPlan(
                "Face skin booster",
                "dr.patel",
                ("dull-skin", "wrinkles-and-lines"),
                ("face",),
                "3",
                (Part("3", "booster"),),
                "Papules, 1-2 mm; 30G 4 mm needle.",
            ),
            FormulaPlan(
                "Neck revitalisation",
                "dr.hughes",
                ("dull-skin", "loose-skin"),
                ("neck",),
                "4",
                (Part("3", "booster"), Part("1", "vitamin-c")),
            ),
            FormulaPlan(
                "Melasma cheeks",
                "dr.patel",
                ("pigmentation",),
                ("cheeks",),
                "3",
                (Part("1.5", "tranexamic"), Part("1.5", "vitamin-c")),
                "Daily sunscreen throughout the course.",
            ),
            FormulaPlan(
                "Forehead pigmentation",
                "dr.hughes",
                ("pigmentation",),
                ("forehead",),
                "3",
                (Part("1", "tranexamic"), Part("1", "glutathione"), Part("1", "saline")),
            ),
            FormulaPlan(
                "Vertex hair loss",
                "dr.patel",
                ("alopecia",),
                ("vertex",),
                "4",
                (Part("2", "minoxidil"), Part("1", "dutasteride"), Part("1", "saline")),
                "Men only: dutasteride must not reach anyone who is or may become pregnant.",
            ),
            FormulaPlan(
                "Botanical scalp",
                "dr.hughes",
                ("alopecia",),
                ("scalp",),
                "5",
                (Part("5", "hair-botanical"),),
                "Evidence for hair loss is weak: say so when proposing it.",
            ),
        ),
        # Dr Hughes's licence has lapsed: the history is Dr Patel's.
        history=(
            HistoryPlan("Submental contour", "lipo", 4),
            HistoryPlan("Face skin booster", "booster", 3),
        ),
        edited="Submental contour",
        edit_parts=(Part("1.6", "lipo"), Part("0.4", "lidocaine")),
        edit_total_ml="2",
        edit_notes="Less lipolytic per session after two patients had marked swelling.",
        recalled="booster",
        near_expiry="tranexamic",
        expired="saline",
    ),
}


# --- building -----------------------------------------------------------------------------


@dataclass
class FormulaCounts:
    products: int = 0
    lots: int = 0
    formulas: int = 0


@dataclass
class _Build:
    """One clinic's build: its plan, people and what has been written so far."""

    clinic: Clinic
    plan: ClinicPlan
    rng: random.Random
    today: date
    users: dict[str, User]
    patients: list[Patient]
    ingredients: dict[str, Ingredient]
    products: dict[str, Product] = field(default_factory=dict)
    lots: dict[str, list[Lot]] = field(default_factory=dict)  # oldest first
    formulas: dict[str, Formula] = field(default_factory=dict)

    def user(self, role: Role) -> User:
        return next(u for u in self.users.values() if u.role == role)


def require_catalogue() -> None:
    """Refuse to build when what the library names is not loaded."""
    names = {name for plan in PRODUCTS for name, _, _ in plan.contents} | {
        part.ingredient for clinic in PLANS.values() for f in clinic.formulas for part in f.parts
    }
    names.discard("")
    found = set(
        Ingredient.objects.filter(clinic__isnull=True, name__in=names).values_list(
            "name", flat=True
        )
    )
    missing = ", ".join(sorted(names - found))
    if missing:
        # The names only help when the catalogue is loaded but lacks some of them.
        detail = f" (shared ingredients missing: {missing})" if found else ""
        raise MissingCatalogue(
            f"The demo needs the catalogue{detail}; run `mesoclinic load_catalogue` first."
        )


def build_formulas(
    rngs: Sequence[random.Random],
    clinics: Sequence[Clinic],
    staff: Sequence[User],
    patients: Sequence[Patient],
    excluded: set[int],
    today: date,
) -> FormulaCounts:
    """The library of each clinic (``rngs`` and ``clinics`` side by side). Patients whose id
    is in ``excluded`` (allergies, pregnancy...) get no demo history."""
    ingredients = {i.name: i for i in Ingredient.objects.filter(clinic__isnull=True)}
    counts = FormulaCounts()
    for rng, clinic in zip(rngs, clinics, strict=True):
        build = _Build(
            clinic=clinic,
            plan=PLANS[clinic.slug],
            rng=rng,
            today=today,
            users={u.username: u for u in staff if u.clinic_id == clinic.pk},
            patients=[p for p in patients if p.clinic_id == clinic.pk and p.pk not in excluded],
            ingredients=ingredients,
        )
        _stock(build)
        _write_formulas(build)
        _record_history(build)
        _recall(build)
        edited = build.formulas[build.plan.edited]
        # Used by the history already, but a demo without patients has none.
        services.mark_version_used(edited.current_version)
        services.save_formula_edit(
            edited,
            _components(build, build.plan.edit_parts),
            edited.author,
            total_volume_ml=Decimal(build.plan.edit_total_ml),
            notes=build.plan.edit_notes,
        )
        counts.products += len(build.products)
        counts.lots += sum(len(lots) for lots in build.lots.values())
        counts.formulas += len(build.formulas)
    return counts


def _stock(build: _Build) -> None:
    """Each product with two or three lots, the oldest first. Lots last a year or two; the
    oldest lot of two products is the near-expiry one and the expired one."""
    london = build.clinic.slug == LONDON
    admin = build.user(Role.ADMIN)
    rng, today, plan = build.rng, build.today, build.plan
    for product_plan in PRODUCTS:
        if not product_plan.names[london]:
            continue
        product = services.create_product(
            clinic=build.clinic,
            name=product_plan.names[london],
            manufacturer=product_plan.manufacturers[london],
            presentation=product_plan.presentation,
            volume_ml=Decimal(product_plan.volume_ml),
            contents=[
                Content(build.ingredients[name], Decimal(concentration), unit)
                for name, concentration, unit in product_plan.contents
            ],
            regulatory_status=product_plan.regulatory_status,
            actor=admin,
        )
        build.products[product_plan.key] = product
        received = [today - timedelta(days=rng.randint(150, 300))]
        received += [today - timedelta(days=rng.randint(10, 120)) for _ in range(rng.randint(1, 2))]
        lots: list[Lot] = []
        for index, received_on in enumerate(received):
            if index == 0 and product_plan.key == plan.near_expiry:
                expiry = today + timedelta(days=rng.randint(8, 20))
            elif index == 0 and product_plan.key == plan.expired:
                expiry = today - timedelta(days=rng.randint(5, 40))
            else:
                expiry = today + timedelta(days=rng.randint(90, 720))
            lots.append(
                services.receive_lot(
                    product=product,
                    lot_number=_lot_number(rng, product_plan.lot_code, received_on, lots),
                    expiry_date=expiry,
                    received_on=received_on,
                    received_quantity=rng.randint(10, 40),
                    supplier=SUPPLIERS[build.clinic.slug],
                    storage_notes=product_plan.storage,
                    actor=build.user(Role.ASSISTANT),
                )
            )
        build.lots[product_plan.key] = lots


def _lot_number(rng: random.Random, code: str, received: date, taken: list[Lot]) -> str:
    while True:
        number = f"{code}{received:%y%m}-{rng.randrange(100, 1000)}"
        if all(lot.lot_number != number for lot in taken):
            return number


def _components(build: _Build, parts: Sequence[Part]) -> list[ComponentSpec]:
    return [
        ComponentSpec(product=build.products[part.product], volume_ml=Decimal(part.ml))
        if part.product
        else ComponentSpec(
            ingredient=build.ingredients[part.ingredient],
            concentration=Decimal(part.concentration),
            unit=part.unit,
            volume_ml=Decimal(part.ml),
        )
        for part in parts
    ]


def _write_formulas(build: _Build) -> None:
    indications = {i.code: i for i in Indication.objects.filter(retired=False)}
    areas = {a.code: a for a in BodyArea.objects.filter(retired=False)}
    for plan in build.plan.formulas:
        author = build.users[plan.author]
        build.formulas[plan.name] = services.create_formula(
            clinic=build.clinic,
            name=plan.name,
            author=author,
            components=_components(build, plan.parts),
            total_volume_ml=Decimal(plan.total_ml),
            indications=[indications[code] for code in plan.indications],
            areas=[areas[code] for code in plan.areas],
            notes=plan.notes,
            actor=author,
        )


def _record_history(build: _Build) -> None:
    """Past sessions, two weeks apart, each taking the product's volume in the formula from
    its oldest lot."""
    rng = build.rng
    pool = list(build.patients)
    rng.shuffle(pool)
    for plan in build.plan.history:
        formula = build.formulas[plan.formula]
        version = formula.current_version
        [parts] = [f.parts for f in build.plan.formulas if f.name == plan.formula]
        volume = sum((Decimal(p.ml) for p in parts if p.product == plan.product), Decimal(0))
        lot = build.lots[plan.product][0]
        for patient in [pool.pop() for _ in range(min(plan.patients, len(pool)))]:
            # Up to three sessions, the last at least two days before today.
            first = build.today - timedelta(days=rng.randint(30, 80))
            for session in range(rng.randint(1, 3)):
                day = first + session * SESSION_INTERVAL
                at = time(rng.randint(9, 17), rng.choice((0, 15, 30, 45)))
                services.record_lot_use(
                    lot,
                    patient,
                    volume,
                    timezone.make_aware(datetime.combine(day, at), build.clinic.tz),
                    formula.author,
                    formula_version=version,
                    reference=HISTORY_REFERENCE,
                )


def _recall(build: _Build) -> None:
    """Recall the history lot of the plan's product; the first patient has been called."""
    lot = services.recall_lot(
        build.lots[build.plan.recalled][0], RECALL_REASON, build.user(Role.ADMIN)
    )
    contacts = list(services.recall_contacts(lot))
    if contacts:
        services.record_contact(
            contacts[0],
            status=ContactStatus.CONTACTED,
            note=CONTACT_NOTE,
            actor=build.user(Role.ASSISTANT),
        )


# Last year's order of each product: received long enough ago for the courses charted months
# back (``_stock``'s lots arrived later, and the oldest of two products is recalled), and
# dated well past today, so that neither the near-expiry nor the expired lot changes.
EARLIER_RECEIVED_DAYS = (300, 420)
EARLIER_EXPIRY_DAYS = (90, 400)


def stock_earlier_lots(
    rngs: Sequence[random.Random], clinics: Sequence[Clinic], staff: Sequence[User], today: date
) -> int:
    """A lot of every product of each clinic received about a year before ``today`` and still
    in date (``rngs`` and ``clinics`` side by side); returns how many. Its own streams: the
    lots, formulas and history that ``build_formulas`` draws stay as they were."""
    count = 0
    for rng, clinic in zip(rngs, clinics, strict=True):
        desk = next(u for u in staff if u.clinic_id == clinic.pk and u.role == Role.ASSISTANT)
        codes = {plan.names[clinic.slug == LONDON]: plan for plan in PRODUCTS}
        for product in Product.objects.filter(clinic=clinic).order_by("pk"):
            plan = codes[product.name]
            received_on = today - timedelta(days=rng.randint(*EARLIER_RECEIVED_DAYS))
            services.receive_lot(
                product=product,
                lot_number=_lot_number(rng, plan.lot_code, received_on, list(product.lots.all())),
                expiry_date=today + timedelta(days=rng.randint(*EARLIER_EXPIRY_DAYS)),
                received_on=received_on,
                received_quantity=rng.randint(20, 40),
                supplier=SUPPLIERS[clinic.slug],
                storage_notes=plan.storage,
                actor=desk,
            )
            count += 1
    return count
