from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "mesoclinic.demo"
    verbose_name = "Demo data"
