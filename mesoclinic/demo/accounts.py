"""The demo clinics' staff: fixed whatever the seed, so ``mesoclinic demo`` can print them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mesoclinic.clinics.models import Role

# The demo runs on the visitor's own machine with made-up patients; a password everyone can
# read is what lets them sign in as each role.
DEMO_PASSWORD = "mesoclinic-demo"  # noqa: S105 - published on purpose, printed by `mesoclinic demo`
PARIS = "demo"
LONDON = "demo-london"
CLINIC_NAMES = {PARIS: "Paris", LONDON: "London"}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    first_name: str
    last_name: str
    role: Role
    duties: str
    clinic: str = PARIS

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "admin", "Hélène", "Garnier", Role.ADMIN, "runs the clinic (staff, settings, audit log)"
    ),
    DemoAccount(
        "dr.moreau",
        "Camille",
        "Moreau",
        Role.PRACTITIONER,
        "aesthetic physician (face, skin quality, pigmentation)",
    ),
    DemoAccount(
        "dr.lefebvre",
        "Julien",
        "Lefebvre",
        Role.PRACTITIONER,
        "sports physician (body contouring, cellulite, pain relief)",
    ),
    DemoAccount(
        "dr.okafor",
        "Grace",
        "Okafor",
        Role.PRACTITIONER,
        "dermatologist (hair loss), sees the English-speaking patients",
    ),
    DemoAccount(
        "assistant", "Léa", "Fontaine", Role.ASSISTANT, "front desk (intake, bookings, reminders)"
    ),
    DemoAccount(
        "researcher",
        "Thomas",
        "Bernard",
        Role.RESEARCHER,
        "evidence dashboards and de-identified exports only",
    ),
    DemoAccount(
        "london.admin",
        "Priya",
        "Shah",
        Role.ADMIN,
        "runs the London clinic",
        LONDON,
    ),
    DemoAccount(
        "dr.patel",
        "Arjun",
        "Patel",
        Role.PRACTITIONER,
        "aesthetic physician (face, neck)",
        LONDON,
    ),
    DemoAccount(
        "dr.hughes",
        "Siân",
        "Hughes",
        Role.PRACTITIONER,
        "GP with a special interest (body); her licence has expired",
        LONDON,
    ),
    DemoAccount(
        "london.assistant",
        "Tom",
        "Baker",
        Role.ASSISTANT,
        "front desk in London",
        LONDON,
    ),
    DemoAccount(
        "london.researcher",
        "Ada",
        "Okoye",
        Role.RESEARCHER,
        "evidence for the London clinic",
        LONDON,
    ),
)


def demo_logins() -> list[tuple[str, str]]:
    """Each demo username with a one-line description, in the order the CLI prints them."""
    return [
        (
            a.username,
            f"{a.role.label}: {a.first_name} {a.last_name}, {CLINIC_NAMES[a.clinic]}, {a.duties}",
        )
        for a in DEMO_ACCOUNTS
    ]


def totp_key(seed: int, username: str) -> str:
    """The demo login's authenticator key (hex, 20 bytes), derived from the seed so that a
    rebuilt demo keeps the keys a visitor already added to their app. Demo only: a real
    device gets django-otp's random key."""
    return hashlib.sha256(f"{seed}:totp:{username}".encode()).hexdigest()[:40]
