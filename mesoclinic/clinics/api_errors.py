"""How the API reports a refusal from the model or a service, the same in every router."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from ninja.errors import HttpError


def invalid(error: ValidationError) -> HttpError:
    """A 422 whose detail is the error's messages, joined by spaces: what a model's ``clean``
    or a service refused, in its own words. Raise it ``from None``, so that the traceback of
    an expected refusal is not chained onto the response."""
    return HttpError(422, " ".join(error.messages))


# For an operation whose query filter names a record (``?patient_id=``): one of another clinic,
# or none, is 404 like a path's, and the schema says so.
NOT_FOUND_IN_FILTER = {"404": {"description": "A filter names no record of the clinic."}}
