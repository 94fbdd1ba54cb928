"""The main menu: what each role is offered, how it is grouped, and which entry is current."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from mesoclinic.clinics.models import User
from mesoclinic.navigation import GROUPS, NavGroup, NavLink, nav_menu

ClientFor = Callable[[User], Client]


def menu_on(client: Client, path: str = "/") -> list[NavLink | NavGroup]:
    response = client.get(path)
    assert response.status_code == 200, path
    menu: list[NavLink | NavGroup] = response.context["nav_menu"]
    return menu


def shape(menu: list[NavLink | NavGroup]) -> list[str | tuple[str, list[str]]]:
    """The menu as labels: a link by its label, a group as (label, [its links' labels])."""
    return [
        (item.label, [link.label for link in item.links])
        if isinstance(item, NavGroup)
        else item.label
        for item in menu
    ]


def test_every_entry_names_a_known_group_and_a_permission() -> None:
    declared = [
        (config.name, entry)
        for config in apps.get_app_configs()
        for entry in getattr(config, "nav", ())
    ]
    assert declared
    for app, entry in declared:
        assert len(entry) == 4, (app, entry)
        assert entry[0] in GROUPS, (app, entry)


def test_groups_keep_their_order_and_a_lone_entry_stands_on_the_bar() -> None:
    entries = [
        NavLink("Staff", "/clinic/staff/", "Clinic"),
        NavLink("Patients", "/patients/", ""),
        NavLink("Lots", "/formulas/lots/", "Formulary"),
        NavLink("Settings", "/clinic/settings/", "Clinic"),
        NavLink("Odd", "/odd/", "Not in GROUPS"),
        NavLink("Check-in", "/screening/", ""),
    ]
    assert shape(nav_menu(entries)) == [
        "Patients",
        "Check-in",
        "Lots",  # the only Formulary page this person may open: a link, not a group of one
        ("Clinic", ["Staff", "Settings"]),
        "Odd",  # a group missing from GROUPS comes last
    ]
    # A group with nothing in it is not shown at all.
    assert nav_menu([]) == []


def test_an_administrator_has_every_page_in_five_groups(client_for: ClientFor, alice: User) -> None:
    assert shape(menu_on(client_for(alice))) == [
        "Patients",
        "Schedule",
        "Check-in",
        "Flags",
        ("Follow-up", ["Courses", "Maintenance due", "Reminders"]),
        (
            "Evidence",
            ["Outcomes by formula", "Side-effect rates", "Outbreak alerts", "Research export"],
        ),
        ("Formulary", ["Catalogue", "Formulas", "Products", "Lots"]),
        ("Clinic", ["Staff", "Licences", "Settings", "Rooms and hours"]),
        ("Account", ["My account", "My calendar"]),
    ]


def test_an_assistant_is_not_offered_the_clinic_s_settings(
    client_for: ClientFor, asha: User
) -> None:
    menu = {
        item.label: [link.label for link in item.links]
        for item in menu_on(client_for(asha))
        if isinstance(item, NavGroup)
    }
    assert menu["Clinic"] == ["Staff", "Licences"]


def test_a_researcher_gets_the_aggregates_and_no_empty_group(
    client_for: ClientFor, rhea: User
) -> None:
    client = client_for(rhea)
    # No outbreak alerts: they name the patients exposed.
    assert shape(menu_on(client)) == [
        ("Evidence", ["Outcomes by formula", "Side-effect rates", "Research export"]),
        "Catalogue",
        "My account",
    ]
    html = client.get("/").content.decode()
    for hidden in ("Follow-up", "Formulary", "Clinic"):
        assert f"<summary>{hidden}" not in html


def test_the_most_specific_page_is_current_and_marks_its_group(
    client_for: ClientFor, alice: User
) -> None:
    client = client_for(alice)
    menu = menu_on(client, "/formulas/lots/")
    formulary = next(item for item in menu if item.label == "Formulary")
    assert isinstance(formulary, NavGroup)
    assert formulary.active
    # Lots lives under /formulas/, but only Lots is the current page, not Formulas too.
    assert [link.label for link in formulary.links if link.active] == ["Lots"]
    assert [item.label for item in menu if item.active] == ["Formulary"]

    html = client.get("/formulas/lots/").content.decode()
    assert '<summary class="active">Formulary<span class="visually-hidden">' in html
    assert '<a href="/formulas/lots/" aria-current="page">Lots</a>' in html
    assert html.count('aria-current="page"') == 1


def test_an_entry_without_a_group_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from mesoclinic.navigation import _declared

    config = apps.get_app_config("patients")
    monkeypatch.setattr(config, "nav", (("Patients", "patients:list", "patient.view"),))
    with pytest.raises(ImproperlyConfigured, match="group, label, url name, permission"):
        _declared()
