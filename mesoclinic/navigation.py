"""The main navigation: each app declares its entries on its AppConfig (``nav``), so the
menu grows as apps arrive and never links to a page that does not exist."""

from __future__ import annotations

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


def nav_entries(request: HttpRequest) -> list[dict[str, object]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    entries = []
    for config in apps.get_app_configs():
        for label, url_name in getattr(config, "nav", ()):
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            entries.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return entries


def navigation(request: HttpRequest) -> dict[str, object]:
    return {"nav": nav_entries(request)}
