from django.apps import AppConfig


class FormulasConfig(AppConfig):
    name = "mesoclinic.formulas"
    verbose_name = "Formulas, products and lots"
