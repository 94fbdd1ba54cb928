from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "mesoclinic.courses"
    verbose_name = "Courses and appointments"
    nav = (
        ("", "Schedule", "courses:schedule", "course.view"),
        ("Follow-up", "Courses", "courses:list", "course.view"),
        ("Follow-up", "Maintenance due", "courses:maintenance", "course.view"),
        ("Clinic", "Rooms and hours", "courses:setup", "schedule.manage"),
    )
