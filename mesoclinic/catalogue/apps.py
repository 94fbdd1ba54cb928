from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "mesoclinic.catalogue"
    verbose_name = "Catalogue"
    nav = (("Formulary", "Catalogue", "catalogue:index", "catalogue.view"),)
