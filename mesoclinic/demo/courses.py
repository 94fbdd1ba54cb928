"""The demo clinics' schedule: rooms, working hours and leave, and course plans at every stage.

Each clinic has its rooms, and each practitioner a weekly pattern of hours with a lunch break;
Dr Lefebvre takes a day of leave next week. Demo patients have courses planned (nothing booked
yet), booked (a full series proposed and accepted from next week), active (past sessions
attended, one missed, one moved outside its interval with the reason), completed (maintenance
planned, one recall due within the notice period) and stopped (with the reason). Everything is
written through ``courses`` services: proposals come from ``booking.propose_course`` and a
series is booked with ``booking.book_course``, so the hours, leave, licences and the database's
refusal of double bookings all hold. The reminders app makes each session's reminders from the
signal those services send.

Two practitioners show what booking refuses. Dr Hughes's licence has lapsed: her course stopped
being booked at its expiry, and the rest of it stays due. Dr Okafor's licence runs out within
two months, so her new course is planned but not booked.

Attendance can only be recorded for a session that has really begun (``record_attended``
compares with the clock), so a demo built for a future day leaves those sessions booked and
those courses open. A session attended is charted and signed (``demo.charts``), which records
the attendance, and completes the course after its last session.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.consent.models import ConsentDocument
from mesoclinic.courses import booking, plans, rota
from mesoclinic.courses.models import (
    Appointment,
    AppointmentStatus,
    ConcurrentTreatmentKind,
    CoursePlan,
    CourseStatus,
    Room,
    Weekday,
)
from mesoclinic.demo import charts as demo_charts
from mesoclinic.demo import consent as demo_consent
from mesoclinic.demo import screening as demo_screening
from mesoclinic.demo.accounts import LONDON, PARIS
from mesoclinic.formulas.models import Formula, FormulaVersion
from mesoclinic.patients.models import Patient

ROOMS = {
    PARIS: ("Salle Charme", "Salle Érable", "Salle Tilleul"),
    LONDON: ("Garden room", "Mews room"),
}
MON, TUE, WED, THU, FRI, SAT = (
    Weekday.MONDAY,
    Weekday.TUESDAY,
    Weekday.WEDNESDAY,
    Weekday.THURSDAY,
    Weekday.FRIDAY,
    Weekday.SATURDAY,
)


def _blocks(*spans: tuple[str, str]) -> tuple[tuple[time, time], ...]:
    return tuple((time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans)


# Each practitioner's week in the clinic's local time: the days worked and the blocks of each
# day, the gap between two blocks being lunch.
HOURS: dict[str, tuple[tuple[int, ...], tuple[tuple[time, time], ...]]] = {
    "dr.moreau": ((MON, TUE, WED, THU, FRI), _blocks(("09:00", "12:30"), ("13:30", "18:00"))),
    "dr.lefebvre": ((MON, TUE, THU, FRI), _blocks(("09:00", "12:30"), ("14:00", "19:00"))),
    "dr.okafor": ((TUE, WED, FRI, SAT), _blocks(("10:00", "13:00"), ("14:00", "18:00"))),
    "dr.patel": ((MON, TUE, WED, THU, FRI), _blocks(("09:00", "13:00"), ("14:00", "17:30"))),
    "dr.hughes": ((MON, WED, FRI), _blocks(("09:00", "13:00"), ("14:00", "17:00"))),
}
# Tuesday of next week.
LEAVE = ("dr.lefebvre", 1, "Sports medicine congress")
# The recall of the course completed for that purpose falls due this many days after today.
RECALL_DUE_IN_DAYS = 12
MOVE_BY_DAYS = 5
MOVE_REASON = "The patient is away that week and asked for the following one."


@dataclass(frozen=True)
class CourseSpec:
    stage: str  # planned, booked, active, completed or stopped
    practitioner: str
    indication: str
    areas: tuple[str, ...]
    goals: str
    weeks_ago: int = 0  # when the first session was, for courses under way or done
    maintenance_per_year: int = 1
    recall_due_soon: bool = False  # completed so that its first recall is due within days
    no_show: int | None = None  # the session the patient missed
    moved: bool = False  # the next session is moved outside the interval, with the reason
    stop_reason: str = ""
    concurrent: tuple[ConcurrentTreatmentKind, str, int] | None = None  # kind, what, weeks ago


# In order of what a small demo must show first: each stage, then the rest.
SPECS: dict[str, tuple[CourseSpec, ...]] = {
    PARIS: (
        CourseSpec(
            "booked",
            "dr.moreau",
            "wrinkles-and-lines",
            ("face",),
            "Softer forehead and crow's feet lines.",
            concurrent=(
                ConcurrentTreatmentKind.BOTULINUM_TOXIN,
                "Glabellar lines, 20 units, at another clinic",
                3,
            ),
        ),
        CourseSpec(
            "active",
            "dr.moreau",
            "dull-skin",
            ("face", "neck"),
            "Brighter, more even skin tone.",
            weeks_ago=7,
            no_show=2,
        ),
        CourseSpec(
            "completed",
            "dr.moreau",
            "pigmentation",
            ("cheeks", "forehead"),
            "Lighter melasma patches.",
            maintenance_per_year=2,
            recall_due_soon=True,
        ),
        CourseSpec(
            "stopped",
            "dr.lefebvre",
            "localised-fat",
            ("abdomen",),
            "A flatter lower abdomen.",
            weeks_ago=5,
            stop_reason="Bruising took more than a week to settle after each session; the "
            "patient chose to stop.",
        ),
        CourseSpec(
            "planned",
            "dr.okafor",
            "alopecia",
            ("scalp", "vertex"),
            "Slow the thinning at the crown. To book once her licence renewal is verified.",
        ),
        CourseSpec(
            "active",
            "dr.lefebvre",
            "localised-fat",
            ("abdomen", "hips"),
            "Reduce the flanks before a wedding in the summer.",
            weeks_ago=3,
            moved=True,
        ),
        CourseSpec(
            "booked",
            "dr.lefebvre",
            "cellulite",
            ("thighs", "buttocks"),
            "Smoother skin on the thighs.",
        ),
        CourseSpec(
            "completed",
            "dr.okafor",
            "alopecia",
            ("scalp",),
            "Less shedding, as judged on standard photographs.",
            weeks_ago=24,
        ),
        CourseSpec("planned", "dr.moreau", "loose-skin", ("neck",), "Firmer skin on the neck."),
        # Body courses of the last two months: they share lots, which the follow-up's
        # infection cluster needs (demo.aftercare).
        CourseSpec(
            "active", "dr.lefebvre", "localised-fat", ("hips",), "Slimmer hips.", weeks_ago=8
        ),
        CourseSpec(
            "active",
            "dr.lefebvre",
            "localised-fat",
            ("abdomen",),
            "Less fat below the navel after a pregnancy.",
            weeks_ago=7,
        ),
        CourseSpec(
            "active",
            "dr.lefebvre",
            "localised-fat",
            ("thighs",),
            "Slimmer inner thighs.",
            weeks_ago=6,
        ),
    ),
    LONDON: (
        CourseSpec(
            "booked",
            "dr.patel",
            "dull-skin",
            ("face",),
            "Better skin quality before the winter.",
            concurrent=(ConcurrentTreatmentKind.FILLER, "Hyaluronic acid filler, lips", 6),
        ),
        CourseSpec(
            "active",
            "dr.patel",
            "localised-fat",
            ("submental",),
            "A more defined jawline.",
            weeks_ago=5,
            moved=True,
        ),
        CourseSpec(
            "completed",
            "dr.patel",
            "wrinkles-and-lines",
            ("face",),
            "Fewer fine lines around the eyes.",
            maintenance_per_year=2,
            recall_due_soon=True,
        ),
        CourseSpec(
            "stopped",
            "dr.patel",
            "pigmentation",
            ("cheeks",),
            "Fade the melasma on both cheeks.",
            weeks_ago=9,
            stop_reason="Moving abroad for work; will ask for a new course on return.",
        ),
        CourseSpec("planned", "dr.patel", "cellulite", ("buttocks",), "Firmer skin."),
        # Her licence lapsed 12 days ago: the rest of the course cannot be booked.
        CourseSpec(
            "active",
            "dr.hughes",
            "cellulite",
            ("thighs",),
            "Smoother skin on the outer thighs.",
            weeks_ago=6,
            no_show=1,
        ),
        CourseSpec(
            "completed",
            "dr.hughes",
            "localised-fat",
            ("abdomen",),
            "A flatter abdomen.",
            weeks_ago=30,
        ),
    ),
}


@dataclass
class CourseCounts:
    rooms: int = 0
    plans: int = 0
    appointments: int = 0
    consents: int = 0


@dataclass
class _Clinic:
    clinic: Clinic
    rng: random.Random
    today: date
    users: dict[str, User]
    rooms: list[Room]
    # The first course booked is left unsigned: its check-in shows the chart cannot start.
    left_unsigned: CoursePlan | None = None
    # Charts the sessions attended; without one they are only recorded as attended.
    charter: demo_charts.Charter | None = None

    def user(self, role: Role) -> User:
        return next(u for u in self.users.values() if u.role == role)

    @property
    def next_monday(self) -> date:
        return self.today + timedelta(days=7 - self.today.weekday())

    def at(self, moment: datetime) -> date:
        return timezone.localdate(moment, self.clinic.tz)


def build_courses(
    rngs: Sequence[random.Random],
    clinics: Sequence[Clinic],
    staff: Sequence[User],
    patients: Sequence[Patient],
    excluded: set[int],
    today: date,
    charters: Sequence[demo_charts.Charter] | None = None,
) -> CourseCounts:
    """Each clinic's rooms, hours and courses (``rngs`` and ``clinics`` side by side).
    Patients whose id is in ``excluded`` (allergies, pregnancy...) get no course. With
    ``charters`` (side by side too), the sessions attended are charted and signed."""
    counts = CourseCounts()
    for index, (rng, clinic) in enumerate(zip(rngs, clinics, strict=True)):
        users = {u.username: u for u in staff if u.clinic_id == clinic.pk}
        build = _Clinic(clinic, rng, today, users, [])
        build.charter = charters[index] if charters else None
        admin = build.user(Role.ADMIN)
        build.rooms = [rota.add_room(clinic, name, admin) for name in ROOMS[clinic.slug]]
        for username, (days, blocks) in HOURS.items():
            if username in users:
                for day in days:
                    for starts, ends in blocks:
                        rota.add_hours(
                            clinic,
                            practitioner=users[username],
                            weekday=day,
                            starts=starts,
                            ends=ends,
                            actor=admin,
                        )
        username, offset, reason = LEAVE
        if username in users:
            away = build.next_monday + timedelta(days=offset)
            rota.add_leave(
                clinic,
                practitioner=users[username],
                starts_on=away,
                ends_on=away,
                reason=reason,
                actor=admin,
            )
        pool = sorted(
            (p for p in patients if p.clinic_id == clinic.pk and p.pk not in excluded),
            key=lambda p: p.pk,
        )
        chosen = rng.sample(pool, min(len(pool), len(SPECS[clinic.slug])))
        for spec, patient in zip(SPECS[clinic.slug], chosen, strict=False):
            _course(build, spec, patient)
        counts.rooms += len(build.rooms)
        counts.plans += CoursePlan.objects.filter(clinic=clinic).count()
        counts.appointments += Appointment.objects.filter(clinic=clinic).count()
        counts.consents += ConsentDocument.objects.filter(
            clinic=clinic, signed_at__isnull=False
        ).count()
    return counts


def _formula_version(build: _Clinic, spec: CourseSpec, started: bool) -> FormulaVersion | None:
    """The clinic's formula for the indication, the practitioner's own if they wrote one. A
    course under way uses the first version: the library's edits are today's."""
    formulas = sorted(
        Formula.objects.filter(clinic=build.clinic, indications__code=spec.indication),
        key=lambda f: (f.author.username != spec.practitioner, f.name),
    )
    if not formulas:
        return None
    versions = formulas[0].versions.order_by("number")
    return versions.first() if started else versions.last()


def _first_session(build: _Clinic, spec: CourseSpec, plan: CoursePlan) -> date:
    if spec.stage in ("planned", "booked"):
        return build.next_monday
    if spec.recall_due_soon:
        # complete_plan puts the first recall 12 / maintenance months after the last session.
        last = plans.add_months(
            build.today + timedelta(days=RECALL_DUE_IN_DAYS), -12 // spec.maintenance_per_year
        )
        return last - timedelta(days=plan.interval_days * (plan.sessions_planned - 1))
    return build.today - timedelta(weeks=spec.weeks_ago)


def _course(build: _Clinic, spec: CourseSpec, patient: Patient) -> None:
    practitioner = build.users[spec.practitioner]
    front_desk = build.user(Role.ASSISTANT)
    rng = build.rng
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code=spec.indication),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        actor=practitioner,
        areas=BodyArea.objects.filter(code__in=spec.areas),
        formula_version=_formula_version(build, spec, spec.weeks_ago > 0 or spec.recall_due_soon),
        # Both within the protocol's range, so neither needs a reason.
        sessions_planned=rng.choice((6, 8)),
        maintenance_per_year=spec.maintenance_per_year,
        goals=spec.goals,
    )
    if spec.concurrent is not None:
        kind, description, weeks = spec.concurrent
        plans.add_concurrent_treatment(
            plan,
            kind=kind,
            description=description,
            given_on=build.today - timedelta(weeks=weeks),
            actor=practitioner,
        )
    if spec.stage == "planned":
        return
    consent = None
    if spec.stage == "booked" and build.left_unsigned is None:
        build.left_unsigned = plan
    else:
        consent = demo_consent.sign_on_the_tablet(rng, plan, front_desk)
    room = rng.choice(build.rooms)
    start = _first_session(build, spec, plan)
    if spec.practitioner == "dr.hughes" and spec.stage == "active":
        _book_while_licensed(build, plan, start, room, front_desk)
    else:
        proposals = _spread(rng, plan, booking.propose_course(plan, start, room=room))
        booking.book_course(plan, proposals, front_desk)
    demo_screening.prescribe(plan, build.today)
    _record_the_past(build, spec, plan, front_desk)
    if spec.moved:
        _move_next_session(build, plan, front_desk)
    plan.refresh_from_db()  # signing the last session's chart may have completed it
    if (
        spec.stage == "completed"
        and plan.status != CourseStatus.COMPLETED
        and not plan.appointments.filter(status=AppointmentStatus.BOOKED)
    ):
        plans.complete_plan(plan, practitioner)
    elif spec.stage == "stopped":
        if consent is not None:
            demo_consent.withdraw(consent, front_desk)
        booking.stop_plan(plan, spec.stop_reason, practitioner)


def _spread(
    rng: random.Random, plan: CoursePlan, proposals: list[booking.Proposal]
) -> list[booking.Proposal]:
    """The days proposed, each at a time drawn from the day's free slots rather than its
    first: a real diary does not fill from 09:00 down."""
    tz = plan.clinic.tz
    spread = []
    for proposal in proposals:
        day = timezone.localdate(proposal.starts_at, tz)
        slots = booking.free_slots(plan.practitioner, day, plan.session_minutes, room=proposal.room)
        starts, ends = rng.choice(list(slots))
        spread.append(booking.Proposal(proposal.session_number, starts, ends, proposal.room))
    return spread


def _book_while_licensed(
    build: _Clinic, plan: CoursePlan, start: date, room: Room, actor: User
) -> None:
    """Sessions one by one, each on the day nearest its target that has a free slot, for as
    long as booking finds one in the past. It stops where the practitioner's licence lapsed:
    ``free_slots`` offers nothing on a day she may not practise, as ``book`` refuses it."""

    def free_slots(day: date) -> Iterator[tuple[datetime, datetime]]:
        return booking.free_slots(plan.practitioner, day, plan.session_minutes, room=room)

    previous: date | None = None
    for number in range(1, plan.sessions_planned + 1):
        target = start if previous is None else previous + timedelta(days=plan.interval_days)
        days = sorted(
            (
                target + timedelta(days=d)
                for d in range(-plan.tolerance_days, plan.tolerance_days + 1)
            ),
            key=lambda day: (abs((day - target).days), day),
        )
        for day in days:
            # Only the past: the course is booked as far as it went before today.
            slots = list(free_slots(day)) if day < build.today else []
            if slots:
                break
        else:
            return
        booking.book(
            patient=plan.patient,
            practitioner=plan.practitioner,
            starts_at=build.rng.choice(slots)[0],
            minutes=plan.session_minutes,
            room=room,
            plan=plan,
            session_number=number,
            actor=actor,
        )
        previous = day


def _record_the_past(build: _Clinic, spec: CourseSpec, plan: CoursePlan, actor: User) -> None:
    """Sessions before today were attended (and charted, when the build has a charter), but
    the one the patient missed."""
    now = timezone.now()
    for appointment in plan.appointments.filter(status=AppointmentStatus.BOOKED).order_by(
        "starts_at"
    ):
        if build.at(appointment.starts_at) >= build.today or appointment.starts_at > now:
            continue
        if appointment.session_number == spec.no_show:
            booking.record_no_show(appointment, actor)
        elif build.charter is not None:
            build.charter.attend(appointment, actor)
        else:
            booking.record_attended(appointment, actor)


def _move_next_session(build: _Clinic, plan: CoursePlan, actor: User) -> None:
    """The next session moves some days later, which breaks the interval: the reason is kept."""
    upcoming = (
        plan.appointments.filter(status=AppointmentStatus.BOOKED)
        .order_by("starts_at")
        .select_related("room")
    )
    session = next((a for a in upcoming if build.at(a.starts_at) >= build.today), None)
    if session is None:
        return
    for extra in range(MOVE_BY_DAYS, MOVE_BY_DAYS + plan.tolerance_days + 1):
        day = build.at(session.starts_at) + timedelta(days=extra)
        slots = list(
            booking.free_slots(
                plan.practitioner, day, plan.session_minutes, room=session.room, exclude=session
            )
        )
        if slots:
            booking.move_appointment(session, build.rng.choice(slots)[0], actor, reason=MOVE_REASON)
            return
