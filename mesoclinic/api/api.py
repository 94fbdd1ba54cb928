"""The JSON API at /api/v1/, assembled from each app's router."""

from ninja import NinjaAPI
from ninja.security import django_auth

from mesoclinic import __version__
from mesoclinic.catalogue.api import router as catalogue_router

api = NinjaAPI(
    title="mesoclinic API",
    version=__version__,
    description="Clinical records and evidence for mesotherapy clinics. "
    "Every operation requires authentication.",
    auth=django_auth,
    urls_namespace="api",
)
api.add_router("/catalogue/", catalogue_router)
