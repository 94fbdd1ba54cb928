from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "mesoclinic.api"
    verbose_name = "API"
