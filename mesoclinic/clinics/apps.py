from importlib import import_module

from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "mesoclinic.clinics"
    verbose_name = "Clinics"
    nav = (
        ("Clinic", "Staff", "clinics:staff", "staff.view"),
        ("Clinic", "Licences", "clinics:licences", "licence.view"),
        ("Clinic", "Settings", "clinics:settings", "clinic.settings"),
        ("Account", "My account", "account:index", "account.self"),
    )

    def ready(self) -> None:
        import_module("mesoclinic.clinics.signals")  # connects the audit receivers
