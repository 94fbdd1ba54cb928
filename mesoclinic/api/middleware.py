"""Refuses API input holding a NUL character before any operation runs.

PostgreSQL text cannot hold NUL, so such a value would fail at the database (a 500) after an
operation may already have written something; SQLite would store it. Refused here, once for
every operation, it is a 422 that changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL_MESSAGE = "Text cannot contain a NUL character."
# A NUL in a JSON body is written \u0000 (JSON has no raw control characters in strings).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and _holds_nul(request):
            return JsonResponse({"detail": NUL_MESSAGE}, status=422)
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    if any("\x00" in value for values in request.GET.lists() for value in values[1]):
        return True
    body = request.body
    return b"\x00" in body or bool(_JSON_NUL.search(body))
