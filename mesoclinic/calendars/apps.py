from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    name = "mesoclinic.calendars"
    verbose_name = "Calendar feeds"
    nav = (("Account", "My calendar", "calendars:mine", "course.view"),)
