from django.apps import AppConfig


class FormulasConfig(AppConfig):
    name = "mesoclinic.formulas"
    verbose_name = "Formulas, products and lots"
    nav = (
        ("Formulary", "Formulas", "formulas:list", "formula.view"),
        ("Formulary", "Products", "formulas:products", "formula.view"),
        ("Formulary", "Lots", "formulas:lots", "formula.view"),
    )

    def ready(self) -> None:
        # The catalogue may not import this app, so it announces its loads with a signal;
        # the shared ingredients name its ingredient classes and load with it.
        from mesoclinic.catalogue.signals import catalogue_loaded
        from mesoclinic.formulas.loader import on_catalogue_loaded

        catalogue_loaded.connect(on_catalogue_loaded, dispatch_uid="formulas.shared_ingredients")
