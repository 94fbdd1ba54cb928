"""The demo clinic, built deterministically from a seed and a reference day.

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
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from faker import Faker

from mesoclinic.clinics.models import Clinic, User
from mesoclinic.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD
from mesoclinic.demo.drugs import DRUGS, Drug, Use
from mesoclinic.patients.models import Medication, Patient, Sex

DEFAULT_SEED = 1952  # the year Michel Pistor devised mesotherapy
DEFAULT_PATIENTS = 120
DEMO_CLINIC_SLUG = "demo"
DEMO_TIME_ZONE = "Europe/Paris"

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


@dataclass(frozen=True)
class DemoSummary:
    clinic: Clinic
    seed: int
    today: date
    staff: int
    patients: int
    medications: int

    def __str__(self) -> str:
        return (
            f"Built the demo clinic {self.clinic.name}: {self.staff} staff, "
            f"{self.patients} patients, {self.medications} medications "
            f"(seed {self.seed}, today {self.today.isoformat()})."
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
    clinic = build_clinic()
    staff = build_staff(clinic)
    saved_patients = Patient.objects.bulk_create(
        make_patients(stream(seed, "patients"), clinic, patients, today), batch_size=BATCH_SIZE
    )
    # bulk_create has set each patient's primary key (PostgreSQL, SQLite 3.35+), which the
    # medications need.
    rng = stream(seed, "medications")
    medications = Medication.objects.bulk_create(
        [m for p in saved_patients for m in make_medications(rng, p, today)],
        batch_size=BATCH_SIZE,
    )
    return DemoSummary(
        clinic=clinic,
        seed=seed,
        today=today,
        staff=len(staff),
        patients=len(saved_patients),
        medications=len(medications),
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


def build_staff(clinic: Clinic) -> list[User]:
    return [
        User.objects.create_user(
            username=account.username,
            email=account.email,
            password=DEMO_PASSWORD,
            first_name=account.first_name,
            last_name=account.last_name,
            clinic=clinic,
            role=account.role,
        )
        for account in DEMO_ACCOUNTS
    ]


def make_patients(rng: random.Random, clinic: Clinic, count: int, today: date) -> list[Patient]:
    """``count`` unsaved patients of ``clinic``; names match each patient's language."""
    # Each locale draws from its own instance seeded from our stream: Faker's shared
    # module-level generator would make the names depend on whoever used Faker before.
    fakers = {"fr": Faker("fr_FR"), "en": Faker("en_GB")}
    for faker in fakers.values():
        faker.seed_instance(rng.getrandbits(64))
    taken_emails: set[str] = set()
    patients = []
    for _ in range(count):
        language = "fr" if rng.random() < FRENCH_SPEAKING else "en"
        sex = rng.choices(SEXES, weights=SEX_WEIGHTS)[0]
        faker = fakers[language]
        female_name = sex == Sex.FEMALE or (sex != Sex.MALE and rng.random() < 0.5)
        given = faker.first_name_female() if female_name else faker.first_name_male()
        family = faker.last_name()
        patients.append(
            Patient(
                clinic=clinic,
                given_name=given,
                family_name=family,
                date_of_birth=_birth_date(rng, today),
                sex=sex,
                phone=_phone(rng, language),
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
