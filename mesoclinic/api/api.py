"""The JSON API at /api/v1/, assembled from each app's router."""

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.security import SessionAuth

from mesoclinic import __version__
from mesoclinic.catalogue.api import router as catalogue_router
from mesoclinic.charts.api import router as charts_router
from mesoclinic.clinics.api import router as clinics_router
from mesoclinic.clinics.permissions import Perm, api_router_requires
from mesoclinic.clinics.tokens import TokenAuth
from mesoclinic.consent.api import router as consent_router
from mesoclinic.courses.api import appointments_router, courses_router
from mesoclinic.followup.api import router as followup_router
from mesoclinic.formulas.api import router as formulas_router
from mesoclinic.outcomes.api import router as outcomes_router
from mesoclinic.patients.api import router as patients_router
from mesoclinic.reminders.api import router as reminders_router
from mesoclinic.screening.api import router as screening_router


class ErrorOut(Schema):
    """Every refusal: a sentence, or for invalid input the list of what was wrong."""

    detail: str | list[dict[str, Any]]


# The errors an operation may answer with besides those it declares: what the API's
# authentication, ``api_requires``, the tenancy helpers and ninja's input parsing raise. An
# operation declares any other error itself (``openapi_extra``), and it gets this body too.
_ERRORS = {
    "400": "The request body is not JSON, or breaks a rule of the clinic's records.",
    "401": "Not signed in, or the API token is unknown or revoked.",
    "403": "The caller's role does not allow this operation.",
    "404": "No such record in the caller's clinic.",
    "422": "A parameter or a field of the body is invalid.",
}


def _document_errors(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorOut"] = (
        ErrorOut.model_json_schema()
    )
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            # ninja keys responses by int, openapi_extra by str: one key per status.
            responses = operation["responses"] = {
                str(code): response for code, response in operation["responses"].items()
            }
            codes = {"401", "403"}
            if operation.get("parameters") or "requestBody" in operation:
                codes.add("422")
            if "requestBody" in operation:
                codes.add("400")
            if "{" in path:
                codes.add("404")
            for code in codes:
                responses.setdefault(code, {"description": _ERRORS[code]})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response.setdefault("content", content)


class SessionCookieAuth(SessionAuth):
    """Django's session, as ``ninja.security.django_auth``, except that a request without a
    session cookie is simply anonymous (401): ninja would check CSRF first and answer an
    anonymous POST, PUT or DELETE with 403, though without a session there is nothing to
    forge."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)


class MesoclinicAPI(NinjaAPI):
    """Documents the error responses too, so that the description tells a client every status
    it can receive (ninja documents only the success responses an operation declares)."""

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        _document_errors(schema)
        return schema


api = MesoclinicAPI(
    title="mesoclinic API",
    version=__version__,
    description="Clinical records and evidence for mesotherapy clinics. "
    "Every operation requires authentication.",
    auth=[TokenAuth(), SessionCookieAuth()],
    urls_namespace="api",
)
# The catalogue cannot import the permission table (it imports no other app), so its
# permission is attached here.
catalogue_router.add_decorator(api_router_requires(Perm.CATALOGUE_VIEW))
api.add_router("/catalogue/", catalogue_router)
api.add_router("/clinic/", clinics_router)
api.add_router("/patients/", patients_router)
api.add_router("/formulas/", formulas_router)
api.add_router("/reminders/", reminders_router)
api.add_router("/courses/", courses_router)
api.add_router("/appointments/", appointments_router)
api.add_router("/screening/", screening_router)
api.add_router("/consents/", consent_router)
api.add_router("/charts/", charts_router)
api.add_router("/followup/", followup_router)
api.add_router("/outcomes/", outcomes_router)
