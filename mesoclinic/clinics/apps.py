from importlib import import_module

from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "mesoclinic.clinics"
    verbose_name = "Clinics"
    nav = (
        ("Staff", "clinics:staff", "staff.view"),
        ("Licences", "clinics:licences", "licence.view"),
        ("Settings", "clinics:settings", "clinic.settings"),
        ("My account", "account:index", "account.self"),
    )

    def ready(self) -> None:
        import_module("mesoclinic.clinics.signals")  # connects the audit receivers
