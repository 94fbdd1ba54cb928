"""URL patterns of the API, exempt from the login redirect: the API answers an
unauthenticated request itself, with 401 and a JSON message (deny by default)."""

from django.urls import URLPattern, URLResolver

from mesoclinic.api.api import api


def api_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]
    return patterns, app_name, namespace
