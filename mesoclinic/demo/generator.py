"""The demo clinics, built deterministically from a seed and a reference day.

``build_demo(seed, patients, today)`` writes the records; the ``make_*`` functions draw unsaved
records and touch no database, so tests can check them by the thousand. Each kind of record
draws from its own random stream (``stream(seed, "patients")``): a later builder added here, or
a change to how one kind is drawn, leaves every other kind as it was for the same seed.
"""

from __future__ import annotations

import random
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.clinics.models import Clinic, Licence, Role, User
from mesoclinic.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, LONDON, PARIS, totp_key
from mesoclinic.demo.aftercare import build_aftercare
from mesoclinic.demo.charts import ChartCounts, Charter
from mesoclinic.demo.courses import build_courses
from mesoclinic.demo.drugs import DRUGS, Drug, Use
from mesoclinic.demo.formulas import build_formulas, require_catalogue, stock_earlier_lots
from mesoclinic.demo.history import HistoryCounts, build_history
from mesoclinic.demo.measurements import build_measurements
from mesoclinic.demo.portal import build_portal_accounts
from mesoclinic.demo.screening import build_screening
from mesoclinic.evidence.outbreaks import scan
from mesoclinic.patients.models import (
    Allergy,
    Condition,
    ConditionKind,
    Medication,
    Patient,
    Sex,
    phone_digits,
)

DEFAULT_SEED = 1952  # the year Michel Pistor devised mesotherapy
DEFAULT_PATIENTS = 120
DEMO_CLINIC_SLUG = PARIS
DEMO_TIME_ZONE = "Europe/Paris"
# The London clinic is the smaller one, and mostly English-speaking.
LONDON_SHARE = 1 / 3
LONDON_FRENCH_SPEAKING = 0.1

# Reserved for documentation (RFC 2606): mail sent to them reaches no one.
RESERVED_EMAIL_DOMAINS = ("example.org", "example.com", "example.net")
MIN_AGE, MAX_AGE = 18, 80
# Aesthetic medicine sees mostly people in their thirties to fifties, mostly women.
AGE_MODE = 42
SEXES = (Sex.FEMALE, Sex.MALE, Sex.OTHER, Sex.UNKNOWN)
SEX_WEIGHTS = (0.82, 0.17, 0.005, 0.005)
FRENCH_SPEAKING = 0.7
NO_EMAIL = 0.05
# Big enough that 20,000 patients take few round trips, small enough for SQLite's
# variable limit and for memory.
BATCH_SIZE = 1000


# Substances a few demo patients are allergic to; lidocaine first, as the anaesthetic cream
# of a session is where screening must catch it.
ALLERGIES = (
    ("Lidocaine", "hives after an anaesthetic cream"),
    ("Procaine", "swelling at the injection site"),
    ("Penicillin", "rash"),
    ("Latex", "contact dermatitis"),
    ("Povidone-iodine", "skin reaction"),
    ("Hyaluronidase", "local swelling"),
)
ALLERGY_SHARE = 0.06
# (description, catalogue body area) of skin conditions to treat around, not through.
SKIN_CONDITIONS = (
    ("Active acne", "cheeks"),
    ("Psoriasis plaques", "scalp"),
    ("Eczema flare", "forehead"),
    ("Healing abrasion", "thighs"),
)
BLEEDING_DISORDERS = ("von Willebrand disease", "Mild haemophilia A carrier", "Thrombocytopenia")
PREGNANCY_WEEKS = 40


@dataclass(frozen=True)
class LicencePlan:
    """A demo practitioner's licence, relative to the demo's today."""

    issuing_body: str
    jurisdiction: str
    number_format: str
    years_held: int
    ends_in_days: int  # negative: already expired


LICENCE_PLANS: dict[str, LicencePlan] = {
    "dr.moreau": LicencePlan(
        "Conseil national de l'Ordre des médecins", "France", "RPPS 1000{:07d}", 9, 800
    ),
    "dr.lefebvre": LicencePlan(
        "Conseil national de l'Ordre des médecins", "France", "RPPS 1000{:07d}", 14, 1200
    ),
    # Within 60 days: the administrator's home page reminds them.
    "dr.okafor": LicencePlan(
        "Conseil national de l'Ordre des médecins", "France", "RPPS 1000{:07d}", 4, 40
    ),
    "dr.patel": LicencePlan("General Medical Council", "United Kingdom", "GMC {:07d}", 6, 500),
    # Expired: she can be neither booked nor sign until a renewal is verified.
    "dr.hughes": LicencePlan("General Medical Council", "United Kingdom", "GMC {:07d}", 11, -12),
}


@dataclass(frozen=True)
class DemoSummary:
    clinics: list[Clinic]
    seed: int
    today: date
    staff: int
    patients: int
    medications: int
    allergies: int
    conditions: int
    licences: int
    products: int
    lots: int
    formulas: int
    rooms: int
    course_plans: int
    appointments: int
    prescriptions: int
    screenings: int
    consents: int
    charts: int
    amendments: int
    photos: int
    sessions_without_chart: int
    follow_ups: int
    adverse_events: int
    infections: int
    cluster_lot: str
    outbreak_alerts: int
    open_flags: int
    measurements: int
    portal_accounts: int
    history: HistoryCounts

    @property
    def clinic(self) -> Clinic:
        return self.clinics[0]

    def __str__(self) -> str:
        names = " and ".join(c.name for c in self.clinics)
        return (
            f"Built the demo clinics {names}: {self.staff} staff, {self.licences} licences, "
            f"{self.patients} patients, {self.medications} medications, "
            f"{self.allergies} allergies, {self.conditions} conditions, "
            f"{self.products} products, {self.lots} lots, {self.formulas} formulas, "
            f"{self.rooms} rooms, {self.course_plans} course plans, "
            f"{self.appointments} appointments, {self.prescriptions} prescriptions, "
            f"{self.screenings} screenings of the coming fortnight, {self.consents} signed "
            f"consents, {self.charts} signed treatment charts with {self.photos} photos and "
            f"{self.amendments} amendments, {self.sessions_without_chart} past sessions "
            "attended without a chart (screening refused it), "
            f"{self.follow_ups} answered 24-hour follow-ups, {self.adverse_events} side "
            f"effects ({self.infections} infections after {self.cluster_lot}), "
            f"{self.outbreak_alerts} open outbreak alerts, "
            f"{self.open_flags} open flags, {self.measurements} outcome measurements, "
            f"{self.portal_accounts} patients who can sign in to the portal, "
            f"and {self.history} (seed {self.seed}, today {self.today.isoformat()})."
        )


def stream(seed: int, kind: str) -> random.Random:
    """The random stream for one kind of record. String seeds hash with SHA-512, so the
    stream is the same in every process whatever PYTHONHASHSEED is."""
    return random.Random(f"{seed}:{kind}")


def demo_today() -> date:
    """Today where the demo clinic is, which is what ages and "last week" count from."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(DEMO_TIME_ZONE))


def demo_exists() -> bool:
    return Clinic.objects.filter(slug=DEMO_CLINIC_SLUG).exists()


@transaction.atomic
def build_demo(seed: int, patients: int, today: date) -> DemoSummary:
    """Raises ``MissingCatalogue``, writing nothing, when the catalogue is not loaded."""
    require_catalogue()
    paris, london = build_clinic(), build_london_clinic()
    clinics = {PARIS: paris, LONDON: london}
    staff = build_staff(clinics, seed)
    licences = build_licences(stream(seed, "licences"), staff, today)
    in_london = round(patients * LONDON_SHARE)
    drawn = make_patients(stream(seed, "patients"), paris, patients - in_london, today)
    drawn += make_patients(
        stream(seed, "patients:london"), london, in_london, today, LONDON_FRENCH_SPEAKING
    )
    saved_patients = Patient.objects.bulk_create(drawn, batch_size=BATCH_SIZE)
    # bulk_create has set each patient's primary key (PostgreSQL, SQLite 3.35+), which the
    # medications need.
    rng = stream(seed, "medications")
    medications = Medication.objects.bulk_create(
        [m for p in saved_patients for m in make_medications(rng, p, today)],
        batch_size=BATCH_SIZE,
    )
    allergies = Allergy.objects.bulk_create(
        make_allergies(stream(seed, "allergies"), saved_patients), batch_size=BATCH_SIZE
    )
    areas = {a.code: a for a in BodyArea.objects.filter(code__in=[c for _, c in SKIN_CONDITIONS])}
    conditions = Condition.objects.bulk_create(
        make_conditions(stream(seed, "conditions"), saved_patients, today, areas),
        batch_size=BATCH_SIZE,
    )
    # No demo history or course for them: screening would have stopped or changed their
    # sessions.
    excluded = {a.patient_id for a in allergies} | {c.patient_id for c in conditions}
    library = build_formulas(
        [stream(seed, "formulas"), stream(seed, "formulas:london")],
        [paris, london],
        staff,
        saved_patients,
        excluded=excluded,
        today=today,
    )
    earlier_lots = stock_earlier_lots(
        [stream(seed, "lots:earlier"), stream(seed, "lots:earlier:london")],
        [paris, london],
        staff,
        today,
    )
    charters = [
        Charter(stream(seed, "charts"), paris),
        Charter(stream(seed, "charts:london"), london),
    ]
    schedule = build_courses(
        [stream(seed, "courses"), stream(seed, "courses:london")],
        [paris, london],
        staff,
        saved_patients,
        excluded=excluded,
        today=today,
        charters=charters,
    )
    charted = sum((c.counts for c in charters), ChartCounts())
    # Before screening, which then warns about the infections at the patients' next sessions.
    aftercare = build_aftercare(
        [stream(seed, "aftercare"), stream(seed, "aftercare:london")], [paris, london], today
    )
    measured = build_measurements(
        [stream(seed, "measurements"), stream(seed, "measurements:london")], [paris, london]
    )
    screening = build_screening([paris, london], today)
    portal_accounts = build_portal_accounts([paris, london], today)
    # Last, so that it changes nothing the rest of the demo draws.
    history = build_history(stream(seed, "history"), paris, today)
    # As the scan run by recording the infections would have found them on the demo's day.
    alerts = [alert for clinic in (paris, london) for alert in scan(clinic, as_of=today)]
    return DemoSummary(
        clinics=[paris, london],
        seed=seed,
        today=today,
        staff=len(staff),
        patients=len(saved_patients),
        medications=len(medications),
        allergies=len(allergies),
        conditions=len(conditions),
        licences=len(licences),
        products=library.products,
        lots=library.lots + earlier_lots,
        formulas=library.formulas,
        rooms=schedule.rooms,
        course_plans=schedule.plans,
        appointments=schedule.appointments,
        prescriptions=screening.prescriptions,
        screenings=screening.screenings,
        consents=schedule.consents,
        charts=charted.signed,
        amendments=charted.amendments,
        photos=charted.photos,
        sessions_without_chart=charted.without_chart,
        follow_ups=aftercare.follow_ups,
        adverse_events=aftercare.events,
        infections=aftercare.infections,
        cluster_lot=aftercare.cluster_lot,
        outbreak_alerts=len(alerts),
        open_flags=aftercare.open_flags,
        measurements=measured.measurements,
        portal_accounts=portal_accounts,
        history=history,
    )


def build_clinic() -> Clinic:
    return Clinic.objects.create(
        name="Clinique du Mésoderme",
        slug=DEMO_CLINIC_SLUG,
        address="24 rue des Tilleuls\n75011 Paris\nFrance",
        # Paris numbers in the range ARCEP keeps for fiction: they ring no one.
        phone="+33 1 99 00 19 52",
        email="accueil@example.org",
        time_zone=DEMO_TIME_ZONE,
    )


def build_london_clinic() -> Clinic:
    return Clinic.objects.create(
        name="Marylebone Skin Clinic",
        slug=LONDON,
        address="7 Wimpole Mews\nLondon W1G 8PB\nUnited Kingdom",
        # The London drama range Ofcom keeps for fiction.
        phone="+44 20 7946 0952",
        email="reception@example.com",
        time_zone="Europe/London",
    )


def build_staff(clinics: dict[str, Clinic], seed: int) -> list[User]:
    """Every demo login, each with a confirmed authenticator whose key comes from the seed, so
    that `mesoclinic demo_otp USERNAME` (or an app given the key) can sign them in."""
    users = []
    for account in DEMO_ACCOUNTS:
        user = User.objects.create_user(
            username=account.username,
            email=account.email,
            password=DEMO_PASSWORD,
            first_name=account.first_name,
            last_name=account.last_name,
            clinic=clinics[account.clinic],
            role=account.role,
        )
        TOTPDevice.objects.create(
            user=user,
            name="Demo authenticator",
            key=totp_key(seed, account.username),
            confirmed=True,
        )
        users.append(user)
    return users


def build_licences(rng: random.Random, staff: list[User], today: date) -> list[Licence]:
    """A licence for every demo practitioner, verified by their clinic's administrator."""
    admins = {u.clinic_id: u for u in staff if u.role == Role.ADMIN}
    licences = []
    for user in staff:
        plan = LICENCE_PLANS.get(user.username)
        if plan is None:
            continue
        valid_until = today + timedelta(days=plan.ends_in_days)
        valid_from = _shift_years(today, -plan.years_held) - timedelta(days=rng.randint(0, 300))
        assert user.clinic is not None
        verified = datetime.combine(valid_from + timedelta(days=rng.randint(1, 10)), time(10))
        licences.append(
            Licence.objects.create(
                practitioner=user,
                number=plan.number_format.format(rng.randrange(10**7)),
                issuing_body=plan.issuing_body,
                jurisdiction=plan.jurisdiction,
                valid_from=valid_from,
                valid_until=valid_until,
                verified_by=admins[user.clinic_id],
                verified_at=timezone.make_aware(verified, user.clinic.tz),
            )
        )
    return licences


def make_patients(
    rng: random.Random,
    clinic: Clinic,
    count: int,
    today: date,
    french_speaking: float = FRENCH_SPEAKING,
) -> list[Patient]:
    """``count`` unsaved patients of ``clinic``; names match each patient's language."""
    # Each locale draws from its own instance seeded from our stream: Faker's shared
    # module-level generator would make the names depend on whoever used Faker before.
    fakers = {"fr": Faker("fr_FR"), "en": Faker("en_GB")}
    for faker in fakers.values():
        faker.seed_instance(rng.getrandbits(64))
    taken_emails: set[str] = set()
    patients = []
    for _ in range(count):
        language = "fr" if rng.random() < french_speaking else "en"
        sex = rng.choices(SEXES, weights=SEX_WEIGHTS)[0]
        faker = fakers[language]
        female_name = sex == Sex.FEMALE or (sex != Sex.MALE and rng.random() < 0.5)
        given = faker.first_name_female() if female_name else faker.first_name_male()
        family = faker.last_name()
        phone = _phone(rng, language)
        patients.append(
            Patient(
                clinic=clinic,
                given_name=given,
                family_name=family,
                date_of_birth=_birth_date(rng, today),
                sex=sex,
                phone=phone,
                # bulk_create bypasses Patient.save, which fills this search column.
                phone_digits=phone_digits(phone),
                email="" if rng.random() < NO_EMAIL else _email(rng, given, family, taken_emails),
                preferred_language=language,
            )
        )
    return patients


def make_medications(rng: random.Random, patient: Patient, today: date) -> list[Medication]:
    """The unsaved medications ``patient`` reports on ``today``, drawn by age and sex."""
    age = patient.age_on(today)
    band = 0 if age < 40 else 1 if age < 60 else 2
    groups: set[str] = set()
    medications = []
    for drug in DRUGS:
        if patient.sex not in drug.sexes or drug.group in groups:
            continue
        if rng.random() >= drug.rates[band]:
            continue
        if drug.group:
            groups.add(drug.group)
        medications.append(_medication(rng, drug, patient, today))
    return medications


def make_allergies(rng: random.Random, patients: list[Patient]) -> list[Allergy]:
    """A few patients' allergies; the first is to lidocaine, so every demo has one."""
    chosen = rng.sample(patients, min(len(patients), max(1, round(len(patients) * ALLERGY_SHARE))))
    allergies = []
    for i, patient in enumerate(chosen):
        substance, reaction = ALLERGIES[0] if i == 0 else rng.choice(ALLERGIES)
        allergies.append(Allergy(patient=patient, substance=substance, reaction=reaction))
    return allergies


def make_conditions(
    rng: random.Random, patients: list[Patient], today: date, areas: dict[str, BodyArea]
) -> list[Condition]:
    """Conditions screening must see: pregnancies, bleeding disorders, skin conditions on an
    area. At least one of each once there are patients to carry them. ``areas`` are the
    catalogue's body areas by code (empty when the catalogue is not loaded)."""
    conditions = []
    could_be_pregnant = [p for p in patients if p.sex == Sex.FEMALE and p.age_on(today) <= 44]
    for patient in rng.sample(
        could_be_pregnant, min(len(could_be_pregnant), max(1, len(patients) // 60))
    ):
        conceived = today - timedelta(weeks=rng.randint(4, 30))
        conditions.append(
            Condition(
                patient=patient,
                kind=ConditionKind.PREGNANCY,
                description="Expected delivery date is the end date",
                started=conceived,
                ended=conceived + timedelta(weeks=PREGNANCY_WEEKS),
            )
        )
    for patient in rng.sample(patients, min(len(patients), max(1, len(patients) // 80))):
        conditions.append(
            Condition(
                patient=patient,
                kind=ConditionKind.BLEEDING_DISORDER,
                description=rng.choice(BLEEDING_DISORDERS),
            )
        )
    for patient in rng.sample(patients, min(len(patients), max(1, len(patients) // 40))):
        description, area = rng.choice(SKIN_CONDITIONS)
        conditions.append(
            Condition(
                patient=patient,
                kind=ConditionKind.SKIN,
                description=f"{description} ({area})",
                body_area=areas.get(area),
                started=today - timedelta(days=rng.randint(3, 60)),
            )
        )
    return conditions


def _medication(rng: random.Random, drug: Drug, patient: Patient, today: date) -> Medication:
    started: date
    stopped: date | None = None
    last_dose: date | None = None
    if drug.use is Use.COURSE:
        started = today - timedelta(days=rng.randint(0, 60))
        ends = started + timedelta(days=rng.randint(3, 10))
        if ends < today:
            stopped = last_dose = ends
        else:
            last_dose = today - timedelta(days=rng.randint(0, min(1, (today - started).days)))
    else:
        # Nobody in the demo started a regular drug before sixteen.
        history = (today - _shift_years(patient.date_of_birth, 16)).days
        span = rng.randint(14, min(history, 15 * 365))
        started = today - timedelta(days=span)
        if drug.use is Use.AS_NEEDED:
            # Most patients remember roughly when they last took it: often in the last few
            # weeks, which is what the pre-care window is about.
            if rng.random() < 0.85:
                last_dose = today - timedelta(days=min(int(rng.expovariate(1 / 21)), span))
        elif span >= 60 and rng.random() < 0.1:
            stopped = last_dose = today - timedelta(days=rng.randint(7, span - 30))
    return Medication(
        patient=patient,
        name=rng.choice(drug.names),
        dose=rng.choice(drug.doses),
        started=started,
        stopped=stopped,
        last_dose_taken=last_dose,
    )


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year + years, day=28)


def _birth_date(rng: random.Random, today: date) -> date:
    age = min(int(rng.triangular(MIN_AGE, MAX_AGE + 1, AGE_MODE)), MAX_AGE)
    # Born between the day after the (age + 1)th birthday's date and the age-th: exactly
    # ``age`` years old today.
    latest = _shift_years(today, -age)
    earliest = _shift_years(today, -age - 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randint(0, (latest - earliest).days))


def _phone(rng: random.Random, language: str) -> str:
    # Mobile ranges that Ofcom (07700 900xxx) and ARCEP (06 39 98 xx xx) keep for fiction.
    if language == "en" and rng.random() < 0.5:
        return f"+44 7700 900{rng.randrange(1000):03d}"
    number = rng.randrange(10000)
    return f"+33 6 39 98 {number // 100:02d} {number % 100:02d}"


def _email(rng: random.Random, given: str, family: str, taken: set[str]) -> str:
    first, last = _ascii_name(given), _ascii_name(family)
    local = rng.choice(
        (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randint(1, 99)}", last)
    )
    domain = rng.choice(RESERVED_EMAIL_DOMAINS)
    email, suffix = f"{local}@{domain}", 1
    while email in taken:
        suffix += 1
        email = f"{local}{suffix}@{domain}"
    taken.add(email)
    return email


def _ascii_name(name: str) -> str:
    """ "Le Bihan-Goël" -> "lebihan-goel": what people type for an address."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9-]", "", folded)
