"""The main navigation: each app declares its entries on its AppConfig as
``nav = ((group, label, url name, permission), ...)``, so the menu grows as apps arrive, never
links to a page that does not exist, and shows a person only what their role may open.

``group`` is ``""`` for the few pages used all day, which sit on the bar itself, or the label
of one of ``GROUPS``, under which the other pages gather behind a disclosure, so that the bar
stays on one line. Groups come in the order of ``GROUPS`` (a group missing from it comes
last), entries within a group in the order of INSTALLED_APPS and of each app's ``nav``. A
group of which the person may open nothing is left out; one of which they may open a single
page is shown as a link to that page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from mesoclinic.clinics.permissions import Perm, has_perm

# The bar, left to right: "" are the pages on the bar itself.
GROUPS = ("", "Follow-up", "Evidence", "Formulary", "Clinic", "Account")


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    group: str = ""
    active: bool = False


@dataclass(frozen=True)
class NavGroup:
    label: str
    links: tuple[NavLink, ...]

    @property
    def active(self) -> bool:
        return any(link.active for link in self.links)


def _declared() -> list[tuple[str, str, str, str]]:
    declared: list[tuple[str, str, str, str]] = []
    for config in apps.get_app_configs():
        for entry in getattr(config, "nav", ()):
            if len(entry) != 4:
                raise ImproperlyConfigured(
                    f"{config.name}: each nav entry is (group, label, url name, permission), "
                    f"not {entry!r}."
                )
            group, label, url_name, perm = entry
            declared.append((group, label, url_name, perm))
    return declared


def nav_entries(request: HttpRequest) -> list[NavLink]:
    """The pages this person may open, in declaration order; the one whose address is the
    longest prefix of the current path is the active one."""
    found: list[NavLink] = []
    for group, label, url_name, perm in _declared():
        if not has_perm(request.user, Perm(perm), request):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        found.append(NavLink(label=label, url=url, group=group))
    current = max(
        (link.url for link in found if request.path.startswith(link.url)), key=len, default=None
    )
    return [NavLink(link.label, link.url, link.group, active=link.url == current) for link in found]


def nav_menu(entries: list[NavLink]) -> list[NavLink | NavGroup]:
    """The bar: the ungrouped links, then each group that is not empty."""
    by_group: dict[str, list[NavLink]] = {}
    for link in entries:
        by_group.setdefault(link.group, []).append(link)
    order = {label: position for position, label in enumerate(GROUPS)}
    menu: list[NavLink | NavGroup] = []
    for group in sorted(by_group, key=lambda label: order.get(label, len(GROUPS))):
        links = by_group[group]
        if group and len(links) > 1:
            menu.append(NavGroup(group, tuple(links)))
        else:
            menu.extend(links)
    return menu


def navigation(request: HttpRequest) -> dict[str, object]:
    entries = nav_entries(request)
    return {
        "nav": entries,
        "nav_menu": nav_menu(entries),
        "nav_current": next((link for link in entries if link.active), None),
    }
