"""The demo's consents, which ``demo.courses`` gives each course as it is booked: signed on
the clinic's tablet, and withdrawn with the patient's reason before a course is stopped.

Signatures are drawn here as a scribble; they are signed at the time the demo is built,
because signing takes the clock's time, as it must.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from mesoclinic.clinics.models import User
from mesoclinic.consent import services
from mesoclinic.consent.models import ConsentDocument
from mesoclinic.courses.models import CoursePlan

WITHDRAWAL_REASON = "The patient chose to stop the course and withdrew consent at the desk."


def scribble(rng: random.Random) -> bytes:
    """A handwritten-looking stroke on a transparent ground, as the signature pad sends."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    x, points = 40, []
    while x < 520:
        points.append((x, rng.randint(60, 160)))
        x += rng.randint(25, 60)
    draw.line(points, fill=(28, 36, 48, 255), width=4, joint="curve")
    draw.line([(50, 175), (rng.randint(380, 560), 170)], fill=(28, 36, 48, 255), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sign_on_the_tablet(rng: random.Random, plan: CoursePlan, desk: User) -> ConsentDocument:
    return services.sign_drawn(services.prepare(plan, desk), scribble(rng), desk)


def withdraw(document: ConsentDocument, desk: User) -> None:
    services.withdraw(document, WITHDRAWAL_REASON, desk)
