"""The JSON API at /api/v1/, assembled from each app's router."""

from ninja import NinjaAPI
from ninja.security import django_auth

from mesoclinic import __version__
from mesoclinic.catalogue.api import router as catalogue_router
from mesoclinic.clinics.api import router as clinics_router
from mesoclinic.clinics.permissions import Perm, api_router_requires
from mesoclinic.clinics.tokens import TokenAuth
from mesoclinic.patients.api import router as patients_router

api = NinjaAPI(
    title="mesoclinic API",
    version=__version__,
    description="Clinical records and evidence for mesotherapy clinics. "
    "Every operation requires authentication.",
    auth=[TokenAuth(), django_auth],
    urls_namespace="api",
)
# The catalogue cannot import the permission table (it imports no other app), so its
# permission is attached here.
catalogue_router.add_decorator(api_router_requires(Perm.CATALOGUE_VIEW))
api.add_router("/catalogue/", catalogue_router)
api.add_router("/clinic/", clinics_router)
api.add_router("/patients/", patients_router)
