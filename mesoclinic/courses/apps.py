from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "mesoclinic.courses"
    verbose_name = "Courses and appointments"
    nav = (
        ("Schedule", "courses:schedule", "course.view"),
        ("Courses", "courses:list", "course.view"),
        ("Maintenance due", "courses:maintenance", "course.view"),
        ("Rooms and hours", "courses:setup", "schedule.manage"),
    )
