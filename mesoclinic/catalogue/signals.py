"""Signals of the catalogue, for apps that build on it without the catalogue importing them."""

from django.dispatch import Signal

# Sent by ``loader.load_catalogue`` once the catalogue tables are written, inside the load's
# transaction, with ``report`` (the ``LoadReport``). A receiver loads data that depends on the
# catalogue and may return a one-sentence summary for the report; raising a ``CatalogueError``
# refuses the whole load, nothing written.
catalogue_loaded = Signal()
