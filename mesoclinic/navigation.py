"""The main navigation: each app declares its entries on its AppConfig as
``nav = ((label, url name, permission), ...)``, so the menu grows as apps arrive, never links
to a page that does not exist, and shows a person only what their role may open."""

from __future__ import annotations

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from mesoclinic.clinics.permissions import Perm, has_perm


def nav_entries(request: HttpRequest) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for config in apps.get_app_configs():
        for label, url_name, perm in getattr(config, "nav", ()):
            if not has_perm(request.user, Perm(perm), request):
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            entries.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return entries


def navigation(request: HttpRequest) -> dict[str, object]:
    return {"nav": nav_entries(request)}
