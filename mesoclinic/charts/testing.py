"""Setting up a session ready to chart, for the tests of this app and of those after it (the
API, the demo's checks, the browser tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from importlib import import_module
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from mesoclinic.charts import editor, services
from mesoclinic.charts.models import (
    AreaTreatment,
    Chart,
    ChartAmendment,
    ChartPhoto,
    InjectionPoint,
    Syringe,
    SyringeLot,
)
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.consent import services as consent
from mesoclinic.consent.testing import drawn_png
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Ingredient, Lot, Presentation


def ready_session(plan: CoursePlan, staff: User, *, session_number: int = 1) -> Appointment:
    """A session of ``plan`` that began 20 minutes ago (session 2 three quarters of an hour
    before that, and so on: one practitioner's day), with the course's consent signed.

    Booked in the future through the booking rules, then moved into the past by a direct
    UPDATE: booking refuses past times, and a chart needs a session that has started."""
    clinic = plan.clinic
    day = clinic.today() + timedelta(days=7 * session_number + 14)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    appointment = booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=datetime.combine(day, datetime.min.time(), tzinfo=clinic.tz).replace(hour=10),
        minutes=30,
        actor=staff,
        plan=plan,
        session_number=session_number,
    )
    starts_at = timezone.now().replace(microsecond=0) - timedelta(
        minutes=20 + 45 * (session_number - 1)
    )
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
    )
    appointment.refresh_from_db()
    if consent.valid_consent(plan, timezone.now()) is None:
        consent.sign_drawn(consent.prepare(plan, staff), drawn_png(), staff)
    return appointment


def stock_lot(
    clinic: Clinic,
    actor: User,
    *,
    name: str = "Carnitine 1 g",
    number: str = "CH-001",
    multi_dose: bool = False,
    volume_ml: Decimal = Decimal(5),
    units: int = 10,
) -> Lot:
    """A lot of a one-ingredient product, received a month ago, usable for a year."""
    product = formulas.create_product(
        clinic=clinic,
        name=name,
        manufacturer="Pharma Exemple",
        presentation=Presentation.VIAL if multi_dose else Presentation.AMPOULE,
        volume_ml=volume_ml,
        contents=[
            formulas.Content(
                Ingredient.objects.get(clinic__isnull=True, name="L-carnitine"),
                Decimal(200),
                "mg/mL",
            )
        ],
        multi_dose=multi_dose,
        actor=actor,
    )
    today = clinic.today()
    return formulas.receive_lot(
        product=product,
        lot_number=number,
        expiry_date=today + timedelta(days=365),
        received_on=today - timedelta(days=30),
        received_quantity=units,
        actor=actor,
    )


def simple_draft(chart: Chart, lot: Lot, *, volume: str = "2.00") -> services.DraftSpec:
    """One syringe of ``volume`` mL of ``lot`` into the forehead: 20 points, 2 of them placed."""
    started = chart.appointment.starts_at
    per_point = (Decimal(volume) / 20).quantize(Decimal("0.001"))
    return services.DraftSpec(
        started_at=started,
        ended_at=started + timedelta(minutes=15),
        anaesthetic_product="Lidocaine 5 % cream",
        anaesthetic_minutes=20,
        pain_score=2,
        aftercare_given="No make-up or sport for 24 hours.",
        syringes=[
            services.SyringeSpec(
                number=1,
                volume_ml=Decimal(volume),
                needle_gauge=32,
                needle_length_mm=Decimal(4),
                lots=[services.LotSpec(lot_id=lot.pk, volume_ml=Decimal(volume))],
            )
        ],
        areas=[
            services.AreaSpec(
                area="forehead",
                syringe=1,
                technique="papule",
                depth_mm=Decimal("1.5"),
                volume_per_point_ml=per_point,
                point_count=20,
                points=[services.PointSpec("face", x, y) for x, y in FOREHEAD_POINTS],
            )
        ],
    )


# Points inside the face map's forehead region.
FOREHEAD_POINTS = [(Decimal("90"), Decimal("62")), (Decimal("110"), Decimal("62"))]


def remove_all_charts() -> None:
    """Delete every chart row, signed ones included, for a test whose database is emptied
    row by row afterwards (``transactional_db`` on SQLite deletes, and the triggers of
    migration 0002 would refuse): the triggers are lifted for the deletion only."""
    migration = import_module("mesoclinic.charts.migrations.0002_signed_chart_immutable")
    lift, restore = {
        "postgresql": (migration.PG_BACKWARD, migration.PG_FORWARD),
        "sqlite": (migration.SQLITE_BACKWARD, migration.SQLITE_FORWARD),
    }.get(connection.vendor, ([], []))
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in lift:
            cursor.execute(statement)
        for model in (
            ChartAmendment,
            ChartPhoto,
            InjectionPoint,
            AreaTreatment,
            SyringeLot,
            Syringe,
            Chart,
        ):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608 (model names)
        for statement in restore:
            cursor.execute(statement)


def form_data(spec: services.DraftSpec, tz: ZoneInfo, **extra: str) -> dict[str, str]:
    """What the chart page posts for ``spec`` (the inverse of ``editor.read``)."""
    data = {
        "started_at": editor.local_input(spec.started_at, tz),
        "ended_at": editor.local_input(spec.ended_at, tz),
        "anaesthetic_product": spec.anaesthetic_product,
        "anaesthetic_minutes": _text(spec.anaesthetic_minutes),
        "pain_score": _text(spec.pain_score),
        "immediate_reactions": spec.immediate_reactions,
        "aftercare_given": spec.aftercare_given,
        "notes": spec.notes,
        "syringes": str(len(spec.syringes)),
        "areas": str(len(spec.areas)),
    }
    for i, syringe in enumerate(spec.syringes):
        p = f"syringe-{i}"
        data |= {
            f"{p}-number": str(syringe.number),
            f"{p}-device": syringe.device,
            f"{p}-volume_ml": str(syringe.volume_ml),
            f"{p}-needle_gauge": _text(syringe.needle_gauge),
            f"{p}-needle_length_mm": _text(syringe.needle_length_mm),
            f"{p}-injector_id": syringe.injector_id,
            f"{p}-lots": str(len(syringe.lots)),
        }
        for j, line in enumerate(syringe.lots):
            data |= {
                f"{p}-lot-{j}-lot": str(line.lot_id),
                f"{p}-lot-{j}-volume_ml": str(line.volume_ml),
            }
            if line.opens_unit:
                data[f"{p}-lot-{j}-opens_unit"] = "on"
    for k, area in enumerate(spec.areas):
        p = f"area-{k}"
        data |= {
            f"{p}-area": area.area,
            f"{p}-side": area.side,
            f"{p}-syringe": str(area.syringe),
            f"{p}-technique": area.technique,
            f"{p}-depth_mm": str(area.depth_mm),
            f"{p}-volume_per_point_ml": str(area.volume_per_point_ml),
            f"{p}-point_count": str(area.point_count),
            f"{p}-points": editor.encode_points(area.points),
        }
    return data | extra


def _text(value: object) -> str:
    return "" if value is None else str(value)
