from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "mesoclinic.courses"
    verbose_name = "Courses and appointments"
