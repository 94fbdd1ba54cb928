from django.apps import AppConfig


class ChartsConfig(AppConfig):
    name = "mesoclinic.charts"
    verbose_name = "Treatment charts"
