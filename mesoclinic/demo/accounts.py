"""The demo clinic's staff: fixed whatever the seed, so ``mesoclinic demo`` can print them."""

from __future__ import annotations

from dataclasses import dataclass

from mesoclinic.clinics.models import Role

# The demo runs on the visitor's own machine with made-up patients; a password everyone can
# read is what lets them sign in as each role.
DEMO_PASSWORD = "mesoclinic-demo"  # noqa: S105 - published on purpose, printed by `mesoclinic demo`


@dataclass(frozen=True)
class DemoAccount:
    username: str
    first_name: str
    last_name: str
    role: Role
    duties: str

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
)


def demo_logins() -> list[tuple[str, str]]:
    """Each demo username with a one-line description, in the order the CLI prints them."""
    return [
        (a.username, f"{a.role.label}: {a.first_name} {a.last_name}, {a.duties}")
        for a in DEMO_ACCOUNTS
    ]
