from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "mesoclinic.catalogue"
    verbose_name = "Catalogue"
    nav = (("Catalogue", "catalogue:index", "catalogue.view"),)
