"""Pages of course plans, booking, the clinic's schedule and what it works within: thin views
over ``plans``, ``booking``, ``rota``, ``schedule`` and ``timeline``, scoped to the signed-in
person's clinic by ``tenancy``. Times shown and typed are the clinic's (the middleware
activates its zone for the templates)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Clinic, User
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.courses import booking, plans, rota, schedule
from mesoclinic.courses.booking import Proposal
from mesoclinic.courses.forms import (
    AttendanceForm,
    BookCourseForm,
    ConcurrentTreatmentForm,
    HoursForm,
    LeaveForm,
    MoveForm,
    PlanForm,
    ProposeForm,
    ReasonForm,
    RoomActiveForm,
    RoomForm,
    ScheduleForm,
    SlotForm,
)
from mesoclinic.courses.models import (
    Appointment,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    Leave,
    MaintenanceRecall,
    Room,
    Weekday,
    WorkingHours,
)
from mesoclinic.courses.schedule import GroupBy, Span
from mesoclinic.courses.timeline import SessionState, plan_timeline
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import record_list_view

PAGE_SIZE = 50


def _staff(request: HttpRequest) -> tuple[User, Clinic]:
    user = signed_in_user(request)
    assert user.clinic is not None  # staff, as every permission here requires
    return user, user.clinic


def _can(request: HttpRequest, *perms: Perm) -> dict[str, bool]:
    return {f"can_{perm.name.lower()}": has_perm(request.user, perm, request) for perm in perms}


def _active_rooms(request: HttpRequest) -> list[Room]:
    return list(scoped(request, Room).filter(active=True))


def _listed(request: HttpRequest, patients: list[Patient]) -> None:
    """A page that names patients records one read naming each of them once."""
    record_list_view(request, list({patient.pk: patient for patient in patients}.values()))


# --- course plans ---------------------------------------------------------------------------


@requires(Perm.COURSE_VIEW)
def plan_list(request: HttpRequest) -> HttpResponse:
    numbered = Q(appointments__session_number__isnull=False)
    course_plans = (
        scoped(request, CoursePlan)
        .select_related("patient", "indication", "practitioner")
        .annotate(
            attended=Count(
                "appointments", filter=numbered & Q(appointments__status=AppointmentStatus.ATTENDED)
            ),
            booked=Count(
                "appointments", filter=numbered & Q(appointments__status=AppointmentStatus.BOOKED)
            ),
        )
        .order_by("-created_at", "-pk")
    )
    status = request.GET.get("status", "")
    if status in CourseStatus.values:
        course_plans = course_plans.filter(status=status)
    patient = None
    if request.GET.get("patient", "").isdigit():
        patient = get_scoped_or_404(request, Patient, pk=int(request.GET["patient"]))
        course_plans = course_plans.filter(patient=patient)
    page = Paginator(course_plans, PAGE_SIZE).get_page(request.GET.get("page"))
    _listed(request, [plan.patient for plan in page])
    context = {
        "page": page,
        "status": status,
        "statuses": CourseStatus.choices,
        "patient": patient,
    }
    return render(request, "courses/plan_list.html", context)


@requires(Perm.COURSE_PLAN)
def plan_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    user, clinic = _staff(request)
    patient = get_scoped_or_404(request, Patient, pk=patient_pk)
    practitioners = rota.practitioners(clinic)
    form = PlanForm(
        request.POST or None,
        clinic=clinic,
        practitioners=practitioners,
        initial=PlanForm.initial_for(user, practitioners),
    )
    if request.method == "POST" and form.is_valid():
        try:
            plan = plans.create_plan(
                patient=patient, **form.cleaned_data, actor=user, request=request
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"The {plan.indication.label.lower()} course was planned.")
            return redirect("courses:plan", pk=plan.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "patient": patient}
    return render(request, "courses/plan_form.html", context, status=status)


def _slots(proposals: list[Proposal]) -> str:
    """A proposed series as the form carries it, in UTC so that it compares exactly."""
    return ",".join(
        f"{p.session_number}@{p.starts_at.astimezone(UTC).isoformat()}" for p in proposals
    )


def _plan_page(
    request: HttpRequest,
    plan: CoursePlan,
    *,
    bound: dict[str, forms.Form] | None = None,
    proposals: list[Proposal] | None = None,
) -> HttpResponse:
    """The course page; ``bound`` holds the forms of a refused request (answered 400)."""
    _, clinic = _staff(request)
    rooms = _active_rooms(request)
    bound = bound or {}
    propose_form = bound.get("propose_form")
    if propose_form is None and "start_on" in request.GET:
        # Proposing changes nothing, so it is a GET of this page.
        propose_form = ProposeForm(request.GET, clinic=clinic, rooms=rooms)
        if propose_form.is_valid():
            try:
                proposals = booking.propose_course(
                    plan,
                    propose_form.cleaned_data["start_on"],
                    room=propose_form.cleaned_data["room"],
                )
            except ValidationError as error:
                propose_form.add_error(None, error)
    if propose_form is None:
        propose_form = ProposeForm(
            clinic=clinic,
            rooms=rooms,
            initial={"start_on": date.fromordinal(clinic.today().toordinal() + 1)},
        )
    book_form = None
    if proposals:
        book_form = BookCourseForm(
            clinic=clinic,
            rooms=rooms,
            initial={
                "start_on": propose_form["start_on"].value(),
                "room": propose_form["room"].value(),
                "slots": _slots(proposals),
            },
        )
    timeline = plan_timeline(plan, clinic.today())
    audit.record(AuditAction.VIEW, request=request, obj=plan)
    unbooked = timeline.count(SessionState.DUE) + timeline.count(SessionState.OVERDUE)
    is_open = plan.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
    context = {
        "plan": plan,
        "timeline": timeline,
        "unbooked": unbooked,
        "is_open": is_open,
        "show_booking": is_open
        and unbooked > 0
        and has_perm(request.user, Perm.BOOKING_MANAGE, request),
        # As plans.complete_plan requires; the page offers only what can succeed.
        "can_complete": timeline.count(SessionState.DONE) > 0
        and timeline.count(SessionState.BOOKED) == 0,
        "concurrent": plan.concurrent.select_related("recorded_by"),
        "areas": plan.areas.all(),
        "propose_form": propose_form,
        "proposals": proposals,
        "book_form": book_form,
        "concurrent_form": bound.get("concurrent_form") or ConcurrentTreatmentForm(),
        "complete_form": bound.get("complete_form") or forms.Form(),
        "stop_form": bound.get("stop_form") or ReasonForm(prefix="stop"),
        **_can(request, Perm.COURSE_PLAN, Perm.BOOKING_MANAGE),
    }
    refused = bool(bound) or (propose_form.is_bound and bool(propose_form.errors))
    return render(request, "courses/plan_detail.html", context, status=400 if refused else 200)


@requires(Perm.COURSE_VIEW)
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _plan_page(request, get_scoped_or_404(request, CoursePlan, pk=pk))


@requires(Perm.BOOKING_MANAGE)
@require_POST
def plan_book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book the series proposed, exactly as shown: if the free times changed in between
    (someone else booked one), nothing is booked and a new proposal is shown."""
    user, clinic = _staff(request)
    plan = get_scoped_or_404(request, CoursePlan, pk=pk)
    form = BookCourseForm(request.POST, clinic=clinic, rooms=_active_rooms(request))
    if not form.is_valid():
        return _plan_page(request, plan, bound={"propose_form": form})
    start_on, room = form.cleaned_data["start_on"], form.cleaned_data["room"]
    shown = form.cleaned_data["slots"]
    proposals: list[Proposal] | None = None
    try:
        proposals = booking.propose_course(plan, start_on, room=room)
        if not proposals:
            raise ValidationError("Every session of this course is booked already.")
        if _slots(proposals) != shown:
            raise ValidationError(
                "Some of the times proposed were taken meanwhile; nothing was booked. "
                "Here is a new proposal."
            )
        appointments = booking.book_course(plan, proposals, user, request=request)
    except ValidationError as error:
        form.add_error(None, error)
        if proposals and _slots(proposals) == shown:
            # Still free when proposed again, a slot went while booking: propose afresh.
            try:
                proposals = booking.propose_course(plan, start_on, room=room)
            except ValidationError:
                proposals = None
        return _plan_page(request, plan, bound={"propose_form": form}, proposals=proposals)
    first, last = appointments[0], appointments[-1]
    messages.success(
        request,
        f"{len(appointments)} session{'s' if len(appointments) != 1 else ''} booked, "
        f"from {first.starts_at.astimezone(clinic.tz):%Y-%m-%d} "
        f"to {last.starts_at.astimezone(clinic.tz):%Y-%m-%d}.",
    )
    return redirect("courses:plan", pk=plan.pk)


@requires(Perm.COURSE_PLAN)
@require_POST
def plan_concurrent(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    plan = get_scoped_or_404(request, CoursePlan, pk=pk)
    form = ConcurrentTreatmentForm(request.POST)
    if form.is_valid():
        try:
            treatment = plans.add_concurrent_treatment(
                plan, **form.cleaned_data, actor=user, request=request
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{treatment} was recorded on the course.")
            return redirect("courses:plan", pk=plan.pk)
    return _plan_page(request, plan, bound={"concurrent_form": form})


@requires(Perm.COURSE_PLAN)
@require_POST
def plan_complete(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    plan = get_scoped_or_404(request, CoursePlan, pk=pk)
    try:
        recalls = plans.complete_plan(plan, user, request=request)
    except ValidationError as error:
        form = forms.Form(request.POST)
        form.add_error(None, error)
        return _plan_page(request, plan, bound={"complete_form": form})
    planned = ", ".join(f"{recall.due_on:%Y-%m-%d}" for recall in recalls)
    messages.success(
        request,
        "The course is complete."
        + (f" Maintenance is planned for {planned}." if recalls else " No maintenance is planned."),
    )
    return redirect("courses:plan", pk=plan.pk)


@requires(Perm.COURSE_PLAN)
@require_POST
def plan_stop(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    plan = get_scoped_or_404(request, CoursePlan, pk=pk)
    form = ReasonForm(request.POST, prefix="stop")
    if form.is_valid():
        try:
            booking.stop_plan(plan, form.cleaned_data["reason"], user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The course was stopped; its booked sessions are cancelled.")
            return redirect("courses:plan", pk=plan.pk)
    return _plan_page(request, plan, bound={"stop_form": form})


# --- appointments -----------------------------------------------------------------------------


def _appointment_page(
    request: HttpRequest,
    pk: int,
    *,
    bound: dict[str, forms.Form] | None = None,
    breaks: list[str] | None = None,
) -> HttpResponse:
    """Fetched afresh: a refused change may have left the instance it tried on altered."""
    _, clinic = _staff(request)
    appointment = get_scoped_or_404(request, Appointment, pk=pk)
    rooms = _active_rooms(request)
    bound = bound or {}
    local = appointment.starts_at.astimezone(clinic.tz)
    audit.record(AuditAction.VIEW, request=request, obj=appointment)
    context = {
        "appointment": appointment,
        "is_booked": appointment.status == AppointmentStatus.BOOKED,
        "has_started": appointment.starts_at <= timezone.now(),
        "move_form": bound.get("move_form")
        or MoveForm(
            clinic=clinic,
            rooms=rooms,
            initial={"day": local.date(), "time": local.time(), "room": appointment.room_id or ""},
        ),
        "breaks": breaks or [],
        "cancel_form": bound.get("cancel_form") or ReasonForm(prefix="cancel"),
        "attendance_form": bound.get("attendance_form") or AttendanceForm(),
        **_can(request, Perm.BOOKING_MANAGE),
    }
    return render(request, "courses/appointment.html", context, status=400 if bound else 200)


@requires(Perm.COURSE_VIEW)
def appointment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _appointment_page(request, pk)


def _after_change(appointment: Appointment) -> HttpResponse:
    if appointment.plan_id is not None:
        return redirect("courses:plan", pk=appointment.plan_id)
    return redirect("courses:appointment", pk=appointment.pk)


@requires(Perm.BOOKING_MANAGE)
@require_POST
def appointment_move(request: HttpRequest, pk: int) -> HttpResponse:
    user, clinic = _staff(request)
    appointment = get_scoped_or_404(request, Appointment, pk=pk)
    form = MoveForm(request.POST, clinic=clinic, rooms=_active_rooms(request))
    breaks: list[str] = []
    if form.is_valid():
        starts_at, reason = form.cleaned_data["starts_at"], form.cleaned_data["reason"]
        breaks = booking.interval_breaks(appointment, starts_at)
        if breaks and not reason.strip():
            form.add_error("reason", "Give the reason to move this session outside the interval.")
        else:
            try:
                booking.move_appointment(
                    appointment,
                    starts_at,
                    user,
                    room=form.cleaned_data["room"],
                    reason=reason,
                    request=request,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                moved = appointment.starts_at.astimezone(clinic.tz)
                messages.success(
                    request, f"The appointment was moved to {moved:%Y-%m-%d} at {moved:%H:%M}."
                )
                return _after_change(appointment)
    return _appointment_page(request, pk, bound={"move_form": form}, breaks=breaks)


@requires(Perm.BOOKING_MANAGE)
@require_POST
def appointment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    appointment = get_scoped_or_404(request, Appointment, pk=pk)
    form = ReasonForm(request.POST, prefix="cancel")
    if form.is_valid():
        try:
            booking.cancel_appointment(
                appointment, form.cleaned_data["reason"], user, request=request
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The appointment was cancelled; its slot is free again.")
            return _after_change(appointment)
    return _appointment_page(request, pk, bound={"cancel_form": form})


@requires(Perm.BOOKING_MANAGE)
@require_POST
def appointment_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    appointment = get_scoped_or_404(request, Appointment, pk=pk)
    form = AttendanceForm(request.POST)
    if form.is_valid():
        attended = form.cleaned_data["outcome"] == "attended"
        record = booking.record_attended if attended else booking.record_no_show
        try:
            record(appointment, user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                "Recorded as attended." if attended else "Recorded as a no-show.",
            )
            return _after_change(appointment)
    return _appointment_page(request, pk, bound={"attendance_form": form})


# --- the schedule -------------------------------------------------------------------------


@requires(Perm.COURSE_VIEW)
def schedule_view(request: HttpRequest) -> HttpResponse:
    _, clinic = _staff(request)
    practitioners = list(rota.practitioners(clinic))
    rooms = _active_rooms(request)
    today = clinic.today()
    defaults = {"span": Span.DAY, "day": today.isoformat(), "group_by": GroupBy.PRACTITIONER}
    form = ScheduleForm(defaults | request.GET.dict(), practitioners=practitioners, rooms=rooms)
    valid = form.is_valid()
    if not valid:
        # A hand-made address: today's schedule, with what was wrong in the form.
        fallback = ScheduleForm(defaults, practitioners=practitioners, rooms=rooms)
        fallback.is_valid()
        choice = fallback.cleaned_data
    else:
        choice = form.cleaned_data
    span, day = Span(choice["span"]), choice["day"]
    practitioner_pk, room_pk = choice["practitioner"], choice["room"]
    appointments = scoped(request, Appointment)
    if practitioner_pk is not None:
        appointments = appointments.filter(practitioner_id=practitioner_pk)
    if room_pk is not None:
        appointments = appointments.filter(room_id=room_pk)
    found = schedule.appointments_between(
        appointments,
        schedule.days_of(span, day),
        clinic.tz,
        include_cancelled=choice["cancelled"],
    )
    shown = schedule.build_schedule(
        span,
        day,
        found,
        clinic.tz,
        group_by=GroupBy(choice["group_by"]),
        practitioners=[p for p in practitioners if practitioner_pk in (None, p.pk)],
        rooms=[r for r in rooms if room_pk in (None, r.pk)],
    )
    _listed(request, [appointment.patient for appointment in found])
    kept = {
        key: value
        for key, value in {
            "span": span,
            "group_by": choice["group_by"],
            "practitioner": practitioner_pk or "",
            "room": room_pk or "",
            "cancelled": "on" if choice["cancelled"] else "",
        }.items()
        if value
    }

    def address(on: date) -> str:
        return "?" + urlencode(kept | {"day": on.isoformat()})

    context = {
        "form": form,
        "schedule": shown,
        "today": today,
        "previous_url": address(shown.previous),
        "next_url": address(shown.next),
        "today_url": address(today),
        "count": len(found),
        # A column names what it groups by; each appointment names the rest.
        "show_practitioner": span == Span.WEEK or choice["group_by"] == GroupBy.ROOM,
        "show_room": span == Span.WEEK or choice["group_by"] == GroupBy.PRACTITIONER,
    }
    return render(request, "courses/schedule.html", context, status=200 if valid else 400)


# --- maintenance ------------------------------------------------------------------------------


def _maintenance_page(
    request: HttpRequest, bound: dict[int, SlotForm] | None = None
) -> HttpResponse:
    _, clinic = _staff(request)
    today = clinic.today()
    recalls = list(plans.due_for_maintenance(scoped(request, CoursePlan), today))
    rooms = _active_rooms(request)
    bound = bound or {}
    earliest = date.fromordinal(today.toordinal() + 1)
    rows = [
        {
            "recall": recall,
            "overdue": recall.due_on < today,
            "form": bound.get(recall.pk)
            or SlotForm(
                prefix=f"recall-{recall.pk}",
                clinic=clinic,
                rooms=rooms,
                initial={"day": max(recall.due_on, earliest), "time": "09:00"},
            ),
        }
        for recall in recalls
    ]
    listed = {recall.pk for recall in recalls}
    # A refusal about a recall no longer listed (booked meanwhile) still says why.
    stray = [e for pk, f in bound.items() if pk not in listed for e in f.non_field_errors()]
    _listed(request, [recall.plan.patient for recall in recalls])
    context = {
        "rows": rows,
        "stray_errors": stray,
        "notice_days": plans.MAINTENANCE_NOTICE_DAYS,
        **_can(request, Perm.BOOKING_MANAGE),
    }
    return render(request, "courses/maintenance.html", context, status=400 if bound else 200)


@requires(Perm.COURSE_VIEW)
def maintenance_list(request: HttpRequest) -> HttpResponse:
    return _maintenance_page(request)


@requires(Perm.BOOKING_MANAGE)
@require_POST
def recall_book(request: HttpRequest, pk: int) -> HttpResponse:
    user, clinic = _staff(request)
    recall = get_scoped_or_404(request, MaintenanceRecall, pk=pk)
    form = SlotForm(
        request.POST, prefix=f"recall-{recall.pk}", clinic=clinic, rooms=_active_rooms(request)
    )
    if form.is_valid():
        try:
            appointment = booking.book_maintenance(
                recall,
                form.cleaned_data["starts_at"],
                user,
                room=form.cleaned_data["room"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            starts = appointment.starts_at.astimezone(clinic.tz)
            messages.success(
                request,
                f"Maintenance booked on {starts:%Y-%m-%d} at {starts:%H:%M}.",
            )
            return redirect("courses:maintenance")
    return _maintenance_page(request, {recall.pk: form})


# --- rooms, working hours and leave -----------------------------------------------------------


def _setup_page(request: HttpRequest, bound: dict[str, forms.Form] | None = None) -> HttpResponse:
    _, clinic = _staff(request)
    practitioners = rota.practitioners(clinic)
    bound = bound or {}
    blocks: dict[tuple[int, int], list[WorkingHours]] = defaultdict(list)
    for hours in scoped(request, WorkingHours).order_by("starts"):
        blocks[(hours.practitioner_id, hours.weekday)].append(hours)
    context = {
        "rooms": scoped(request, Room),
        "weekdays": Weekday.choices,
        "week": [(p, [blocks[(p.pk, day)] for day in Weekday.values]) for p in practitioners],
        "leave": scoped(request, Leave)
        .filter(ends_on__gte=clinic.today())
        .select_related("practitioner")
        .order_by("starts_on", "pk"),
        "room_form": bound.get("room_form") or RoomForm(prefix="room"),
        "hours_form": bound.get("hours_form")
        or HoursForm(prefix="hours", practitioners=practitioners),
        "leave_form": bound.get("leave_form")
        or LeaveForm(prefix="leave", practitioners=practitioners),
    }
    return render(request, "courses/setup.html", context, status=400 if bound else 200)


@requires(Perm.SCHEDULE_MANAGE)
def setup(request: HttpRequest) -> HttpResponse:
    return _setup_page(request)


@requires(Perm.SCHEDULE_MANAGE)
@require_POST
def room_add(request: HttpRequest) -> HttpResponse:
    user, clinic = _staff(request)
    form = RoomForm(request.POST, prefix="room")
    if form.is_valid():
        try:
            room = rota.add_room(clinic, form.cleaned_data["name"], user, request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{room} was added.")
            return redirect("courses:setup")
    return _setup_page(request, {"room_form": form})


@requires(Perm.SCHEDULE_MANAGE)
@require_POST
def room_active(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    room = get_scoped_or_404(request, Room, pk=pk)
    form = RoomActiveForm(request.POST)
    form.is_valid()  # a box left unticked is a valid "no"
    active = bool(form.cleaned_data.get("active"))
    rota.set_room_active(room, active, user, request)
    messages.success(request, f"{room} is {'back in use' if active else 'retired'}.")
    return redirect("courses:setup")


@requires(Perm.SCHEDULE_MANAGE)
@require_POST
def hours_add(request: HttpRequest) -> HttpResponse:
    user, clinic = _staff(request)
    form = HoursForm(request.POST, prefix="hours", practitioners=rota.practitioners(clinic))
    if form.is_valid():
        try:
            hours = rota.add_hours(clinic, **form.cleaned_data, actor=user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{hours.practitioner} now works {hours}.")
            return redirect("courses:setup")
    return _setup_page(request, {"hours_form": form})


@requires(Perm.SCHEDULE_MANAGE)
@require_POST
def hours_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    hours = get_scoped_or_404(request, WorkingHours, pk=pk)
    rota.remove_hours(hours, user, request)
    messages.success(
        request, f"{hours} was removed from {hours.practitioner}'s week; booked appointments stay."
    )
    return redirect("courses:setup")


@requires(Perm.SCHEDULE_MANAGE)
@require_POST
def leave_add(request: HttpRequest) -> HttpResponse:
    user, clinic = _staff(request)
    form = LeaveForm(request.POST, prefix="leave", practitioners=rota.practitioners(clinic))
    if form.is_valid():
        try:
            leave, booked = rota.add_leave(clinic, **form.cleaned_data, actor=user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{leave.practitioner}'s leave was added.")
            if booked:
                # Times, not names: messages travel in a cookie.
                listed = ", ".join(
                    f"{a.starts_at.astimezone(clinic.tz):%Y-%m-%d %H:%M}" for a in booked
                )
                messages.warning(
                    request,
                    f"{len(booked)} appointment{'s are' if len(booked) != 1 else ' is'} booked "
                    f"during this leave, to move: {listed}.",
                )
            return redirect("courses:setup")
    return _setup_page(request, {"leave_form": form})


@requires(Perm.SCHEDULE_MANAGE)
@require_POST
def leave_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    leave = get_scoped_or_404(request, Leave, pk=pk)
    rota.remove_leave(leave, user, request)
    messages.success(request, f"{leave.practitioner}'s leave was removed.")
    return redirect("courses:setup")
