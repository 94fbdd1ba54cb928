from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "mesoclinic.portal"
    verbose_name = "Patient portal"
