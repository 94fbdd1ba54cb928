"""Course plans, the clinic's rooms and practitioners' hours, and appointments.

A course plan is the seed's protocol made concrete for one patient: how many sessions, how far
apart (with a tolerance), how long each lasts, and the maintenance that follows. Appointments
book it. No practitioner and no room is ever booked twice at once: besides the check in
``booking``, the database refuses an overlap (an exclusion constraint on PostgreSQL, triggers
on SQLite; migration 0002), so that two requests racing each other cannot both win.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics.models import Clinic
from mesoclinic.formulas.models import FormulaVersion
from mesoclinic.patients.models import Patient

# Sensible limits for a plan's adjustable values; outside them a value is a typing slip.
SESSIONS_LIMITS = (1, 20)
INTERVAL_LIMITS = (7, 90)
SESSION_MINUTES_LIMITS = (10, 120)
MAINTENANCE_LIMITS = (0, 4)


class CourseStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class CoursePlan(models.Model):
    """One patient's course for one indication, with the protocol values it follows."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="course_plans")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="course_plans")
    indication = models.ForeignKey(Indication, on_delete=models.PROTECT, related_name="+")
    areas = models.ManyToManyField(BodyArea, blank=True, related_name="+")
    formula_version = models.ForeignKey(
        FormulaVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="course_plans",
        help_text="The formula intended; each session's chart records what was injected.",
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="course_plans"
    )
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="+")
    sessions_planned = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField()
    tolerance_days = models.PositiveSmallIntegerField()
    session_minutes = models.PositiveSmallIntegerField()
    maintenance_per_year = models.PositiveSmallIntegerField()
    adjustment_reason = models.TextField(
        blank=True, help_text="Why the plan departs from the protocol's values."
    )
    goals = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=CourseStatus.choices, default=CourseStatus.PLANNED
    )
    status_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords(m2m_fields=[areas])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    sessions_planned__gte=SESSIONS_LIMITS[0],
                    sessions_planned__lte=SESSIONS_LIMITS[1],
                    interval_days__gte=INTERVAL_LIMITS[0],
                    interval_days__lte=INTERVAL_LIMITS[1],
                    tolerance_days__lt=models.F("interval_days"),
                    session_minutes__gte=SESSION_MINUTES_LIMITS[0],
                    session_minutes__lte=SESSION_MINUTES_LIMITS[1],
                    maintenance_per_year__lte=MAINTENANCE_LIMITS[1],
                ),
                name="courses_plan_values_in_limits",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=CourseStatus.STOPPED) | ~models.Q(status_reason=""),
                name="courses_plan_stop_has_reason",
                violation_error_message="A stopped course needs the reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.indication.label} course for {self.patient}"


class ConcurrentTreatmentKind(models.TextChoices):
    BOTULINUM_TOXIN = "botulinum_toxin", "Botulinum toxin"
    FILLER = "filler", "Dermal filler"
    PEEL = "peel", "Chemical peel"
    LASER = "laser", "Laser or light"
    OTHER = "other", "Other"


class ConcurrentTreatment(models.Model):
    """Another treatment the patient has alongside the course: outcomes must allow for it."""

    clinic_path = "plan__clinic"

    plan = models.ForeignKey(CoursePlan, on_delete=models.CASCADE, related_name="concurrent")
    kind = models.CharField(max_length=20, choices=ConcurrentTreatmentKind.choices)
    description = models.CharField(max_length=300, blank=True)
    given_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "given_on", "pk"]

    def __str__(self) -> str:
        return self.get_kind_display()


class Room(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="courses_room_name_per_clinic")
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A block of a practitioner's week, in the clinic's local time. Several blocks a day
    leave breaks between them (09:00-12:30 and 13:30-18:00: lunch)."""

    clinic_path = "practitioner__clinic"

    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["practitioner", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")),
                name="courses_hours_end_after_start",
                violation_error_message="Working hours must end after they start.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class Leave(models.Model):
    """Days a practitioner is away: nothing is booked on them."""

    clinic_path = "practitioner__clinic"

    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leave"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["practitioner", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="courses_leave_ends_after_start",
                violation_error_message="Leave cannot end before it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} away {self.starts_on} to {self.ends_on}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ATTENDED = "attended", "Attended"
    NO_SHOW = "no_show", "Did not attend"
    CANCELLED = "cancelled", "Cancelled"


class AppointmentKind(models.TextChoices):
    SESSION = "session", "Course session"
    MAINTENANCE = "maintenance", "Maintenance session"
    OTHER = "other", "Other"


# Statuses that hold their slot; a cancelled appointment frees it. The database's overlap
# rules (migration 0002) list the same value.
FREEING_STATUS = AppointmentStatus.CANCELLED


class Appointment(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kind = models.CharField(
        max_length=12, choices=AppointmentKind.choices, default=AppointmentKind.SESSION
    )
    plan = models.ForeignKey(
        CoursePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    status_reason = models.TextField(blank=True)
    move_reason = models.TextField(
        blank=True, help_text="Why the last move broke the course's interval, if it did."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="courses_appointment_ends_after_start",
                violation_error_message="An appointment must end after it starts.",
            ),
            models.UniqueConstraint(
                fields=["plan", "session_number"],
                condition=~models.Q(status=FREEING_STATUS),
                name="courses_appointment_one_per_session",
                violation_error_message="That session of the course is already booked.",
            ),
        ]
        indexes = [
            models.Index(fields=["practitioner", "starts_at"]),
            models.Index(fields=["room", "starts_at"]),
            models.Index(fields=["clinic", "starts_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.patient} with {self.practitioner} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def holds_slot(self) -> bool:
        return self.status != FREEING_STATUS


class MaintenanceStatus(models.TextChoices):
    DUE = "due", "Due"
    BOOKED = "booked", "Booked"
    DONE = "done", "Done"
    DISMISSED = "dismissed", "Dismissed"


class MaintenanceRecall(models.Model):
    """A maintenance session a completed course calls for (the seed: once or twice a year)."""

    clinic_path = "plan__clinic"

    plan = models.ForeignKey(CoursePlan, on_delete=models.PROTECT, related_name="maintenance")
    due_on = models.DateField()
    status = models.CharField(
        max_length=12, choices=MaintenanceStatus.choices, default=MaintenanceStatus.DUE
    )
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="maintenance"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"Maintenance for {self.plan} due {self.due_on}"
