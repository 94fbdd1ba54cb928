"""Consent documents for tests of this app and of those that build on it: a drawn signature,
the code a patient was emailed, and a plan's documents in each state."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from importlib import import_module

from django.core import mail
from django.db import connection, transaction
from PIL import Image, ImageDraw

from mesoclinic.clinics.models import User
from mesoclinic.consent import services
from mesoclinic.consent.models import ConsentCode, ConsentDocument, ConsentWithdrawal
from mesoclinic.courses.models import CoursePlan


def drawn_png(width: int = 600, height: int = 200) -> bytes:
    """A signature as the pad sends it: dark strokes on a transparent ground."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(40, 150), (90, 60), (130, 140), (180, 50), (240, 150), (300, 90), (380, 120)]
    draw.line(points, fill=(28, 36, 48, 255), width=5, joint="curve")
    draw.line([(60, 170), (520, 160)], fill=(28, 36, 48, 255), width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def blank_png(width: int = 600, height: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 0, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def last_code_sent(address: str) -> str:
    """The one-time code in the newest email sent to ``address`` (Django's test outbox)."""
    for message in reversed(mail.outbox):
        if address in message.to:
            found = re.search(r"^\s+(\d{6})\s*$", str(message.body), re.MULTILINE)
            if found:
                return found.group(1)
    raise AssertionError(f"No consent code was emailed to {address}.")


@dataclass(frozen=True)
class PlanConsents:
    signed: ConsentDocument  # version 1, signed on the tablet
    draft: ConsentDocument  # version 2, a code emailed for it when the patient has an address
    code: str | None


def plan_consents(plan: CoursePlan, staff: User) -> PlanConsents:
    """A signed version 1 (drawn, ``staff`` witnessing) and a draft version 2 of ``plan``."""
    signed = services.sign_drawn(services.prepare(plan, staff), drawn_png(), staff)
    draft = services.prepare(plan, staff)
    code = None
    if plan.patient.email:
        services.send_code(draft, actor=staff)
        code = last_code_sent(plan.patient.email)
    return PlanConsents(signed=signed, draft=draft, code=code)


def remove_all_consents() -> None:
    """Delete every consent row, signed ones included, for a test whose database is emptied
    row by row afterwards (``transactional_db`` on SQLite deletes, and the triggers of
    migration 0002 would refuse): the triggers are lifted for the deletion only."""
    migration = import_module("mesoclinic.consent.migrations.0002_signed_consent_immutable")
    lift, restore = {
        "postgresql": (migration.PG_BACKWARD, migration.PG_FORWARD),
        "sqlite": (migration.SQLITE_BACKWARD, migration.SQLITE_FORWARD),
    }.get(connection.vendor, ([], []))
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in lift:
            cursor.execute(statement)
        for model in (ConsentCode, ConsentWithdrawal, ConsentDocument):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608 (model names)
        for statement in restore:
            cursor.execute(statement)
