"""The French interface of the portal: the message catalogue is complete (every entry
translated, nothing fuzzy, the same placeholders as the English), the committed .mo says
exactly what the .po says (a stale .mo fails), and real portal pages render in French for a
French patient, or for anyone who chose French with the language switch."""

from __future__ import annotations

import ast
import fnmatch
import gettext
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from mesoclinic.charts.models import Chart
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient

MESSAGES = Path(settings.LOCALE_PATHS[0]) / "fr" / "LC_MESSAGES"
PO = MESSAGES / "django.po"
MO = MESSAGES / "django.mo"


# --- a small .po reader (no dependency) -------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # singular entries use index 0
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def plural(self) -> bool:
        return self.msgid_plural is not None


KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def read_po(path: Path) -> list[Entry]:
    """The active entries of ``path`` (obsolete ``#~`` entries are skipped, as msgfmt does)."""
    entries: list[Entry] = []
    entry = Entry()
    current: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, started, current
        if started:
            entries.append(entry)
        entry, started, current = Entry(), False, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            if started and current and current[0].startswith("msgstr"):
                finish()
            entry.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            if started and current and current[0].startswith("msgstr"):
                finish()
            continue
        match = KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            if (
                keyword in ("msgctxt", "msgid")
                and started
                and current
                and current[0].startswith("msgstr")
            ):
                finish()
            started = True
            entry.line = entry.line or number
            value = ast.literal_eval(literal)
            if keyword == "msgid":
                entry.msgid, current = value, ("msgid", 0)
            elif keyword == "msgid_plural":
                entry.msgid_plural, current = value, ("msgid_plural", 0)
            elif keyword == "msgctxt":
                entry.msgctxt, current = value, ("msgctxt", 0)
            else:
                i = int(index) if index is not None else 0
                entry.msgstr[i], current = value, ("msgstr", i)
            continue
        if line.startswith('"') and current is not None:
            value = ast.literal_eval(line)
            kind, i = current
            if kind == "msgid":
                entry.msgid += value
            elif kind == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + value
            elif kind == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + value
            else:
                entry.msgstr[i] += value
            continue
        raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    return entries


PLACEHOLDER = re.compile(
    r"%\(\w+\)[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %(name)s
    r"|%[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %s, %d
    r"|\{\w*(?:[.!:][^{}]*)?\}"  # {name}, {0}, {}
)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return read_po(PO)


@pytest.fixture(scope="module")
def messages(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if e.msgid]


# --- the catalogue ----------------------------------------------------------------------------


def test_the_reader_reads_the_catalogue(entries: list[Entry], messages: list[Entry]) -> None:
    header = entries[0]
    assert header.msgid == "" and "fuzzy" not in header.flags
    assert "Language: fr\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header.msgstr[0]
    assert len(messages) > 100
    ids = [(e.msgctxt, e.msgid) for e in messages]
    assert len(ids) == len(set(ids)), "duplicate msgid"
    assert any(e.plural for e in messages)
    by_id = {e.msgid: e for e in messages}
    assert by_id["My course"].msgstr == {0: "Mon traitement"}
    assert by_id["Home"].msgstr == {0: "Accueil"}


def test_every_entry_is_translated_and_not_fuzzy(messages: list[Entry]) -> None:
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    assert not fuzzy, fuzzy
    forms = {0, 1}  # French: nplurals=2
    empty = [
        e.msgid
        for e in messages
        if set(e.msgstr) != (forms if e.plural else {0})
        or any(not text.strip() for text in e.msgstr.values())
    ]
    assert not empty, empty


def test_every_translation_keeps_the_placeholders(messages: list[Entry]) -> None:
    wrong = []
    for e in messages:
        if not e.plural:
            if placeholders(e.msgstr[0]) != placeholders(e.msgid):
                wrong.append((e.line, e.msgid, e.msgstr[0]))
            continue
        assert e.msgid_plural is not None
        plural = placeholders(e.msgid_plural)
        # The last form (n > 1) keeps every placeholder of the English plural; the first form
        # (n = 0 or 1 in French) is either the English singular's or the plural's.
        if placeholders(e.msgstr[1]) != plural:
            wrong.append((e.line, e.msgid_plural, e.msgstr[1]))
        if placeholders(e.msgstr[0]) not in (placeholders(e.msgid), plural):
            wrong.append((e.line, e.msgid, e.msgstr[0]))
    assert not wrong, wrong


def test_the_translations_keep_the_markup(messages: list[Entry]) -> None:
    tag = re.compile(r"</?[a-zA-Z][^>]*>")
    wrong = [
        e.msgid
        for e in messages
        for text in e.msgstr.values()
        if sorted(tag.findall(text)) != sorted(tag.findall(e.msgid))
    ]
    assert not wrong, wrong


def test_the_compiled_catalogue_is_up_to_date(messages: list[Entry]) -> None:
    """The .mo is committed (CI has no gettext): it must say what the .po says."""
    assert MO.exists(), "run compilemessages -l fr"
    with MO.open("rb") as fp:
        mo = gettext.GNUTranslations(fp)
    assert mo.info().get("language") == "fr"
    stale = []
    for e in messages:
        key = f"{e.msgctxt}\x04{e.msgid}" if e.msgctxt is not None else e.msgid
        if e.plural:
            assert e.msgid_plural is not None
            # French: n = 1 takes the first form, n = 2 the second.
            for n, index in ((1, 0), (2, 1)):
                if mo.ngettext(key, e.msgid_plural, n) != e.msgstr[index]:
                    stale.append((e.msgid, index))
        elif mo.gettext(key) != e.msgstr[0]:
            stale.append((e.msgid, 0))
    assert not stale, f"the .mo is stale, run compilemessages -l fr: {stale}"


def test_the_compiled_catalogue_is_not_git_ignored() -> None:
    """No pattern of the project's .gitignore matches the .mo or a folder above it."""
    root = MO.parent
    while root.parent != root and not (root / ".gitignore").exists():
        root = root.parent
    assert (root / ".gitignore").exists(), "the project's .gitignore was not found"
    parts = MO.relative_to(root).parts
    paths = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for raw in (root / ".gitignore").read_text(encoding="utf-8").splitlines():
        pattern = raw.strip().rstrip("/")
        if not pattern or pattern.startswith(("#", "!")):
            continue
        anchored = pattern.lstrip("/")
        for path in paths:
            name = path.rsplit("/", 1)[-1]
            assert not fnmatch.fnmatch(name, anchored), (raw, path)
            assert not fnmatch.fnmatch(path, anchored), (raw, path)


# --- pages in French --------------------------------------------------------------------------


def text_of(response: object) -> str:
    """The page as a reader sees it: entities decoded, no-break spaces as spaces."""
    content = response.content.decode()  # type: ignore[attr-defined]
    return html.unescape(content).replace("\u00a0", " ").replace("\u202f", " ")


NAV_FR = ("Accueil", "Mon traitement", "Après la séance", "Mes résultats", "S'informer")
NAV_EN = (">Home<", ">My course<", ">Aftercare<", ">My results<", ">Learn<", "Sign out")

PAGES = {
    "portal:home": (
        ("Bonjour Camille", "Vous n'avez pas de séance réservée", "Se déconnecter"),
        ("Hello, Camille", "You have no session booked"),
    ),
    "portal:course": (
        ("Ce que contiennent vos injections", "Séances faites : 1 sur 8", "A eu lieu"),
        ("What is in your injections", "Sessions done"),
    ),
    "portal:aftercare": (
        (
            "Quand demander de l'aide tout de suite",
            "Appelez le numéro d'urgence",
            "112 en Europe",
            "Signaler un effet indésirable",
        ),
        ("When to get help now", "Report a side effect", "emergency number"),
    ),
    "portal:learn": (
        ("En savoir plus sur votre traitement",),
        ("Learn about your treatment",),
    ),
    "portal:account": (
        ("Votre compte", "Changer de mot de passe", "Qui a ouvert votre dossier"),
        ("Your account", "Change password", "Who opened your record"),
    ),
}


def assert_french(response: object, french: tuple[str, ...], english: tuple[str, ...]) -> None:
    assert response.status_code == 200  # type: ignore[attr-defined]
    page = text_of(response)
    assert '<html lang="fr">' in page
    for words in french:
        assert words in page, words
    for words in english:
        assert words not in page, words


@pytest.fixture
def french_patient(patient: Patient) -> Patient:
    patient.preferred_language = "fr"
    patient.save(update_fields=["preferred_language"])
    return patient


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PAGES))
def test_portal_pages_in_the_patients_language(
    name: str, portal: Client, french_patient: Patient, face_plan: CoursePlan, chart: Chart
) -> None:
    french, english = PAGES[name]
    response = portal.get(reverse(name))
    assert response["Content-Language"] == "fr"
    assert_french(response, NAV_FR + french, NAV_EN + english)


@pytest.mark.django_db
def test_the_language_switch_cookie_gives_french_to_an_english_patient(
    portal: Client, patient: Patient, face_plan: CoursePlan, chart: Chart
) -> None:
    assert patient.preferred_language != "fr"
    english = text_of(portal.get(reverse("portal:course")))
    assert "My course" in english and "Mon traitement" not in english

    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    french, not_english = PAGES["portal:course"]
    assert_french(portal.get(reverse("portal:course")), NAV_FR + french, NAV_EN + not_english)


@pytest.mark.django_db
def test_the_sign_in_page_in_french_for_anyone_with_the_cookie(client: Client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert_french(
        client.get(reverse("portal:login")),
        ("Connectez-vous à votre portail patient", "Mot de passe", "Adresse e-mail"),
        ("Sign in to your patient portal", "Password", "Email address"),
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = text_of(client.get(reverse("portal:login")))
    assert "Sign in to your patient portal" in english
    assert "Connectez-vous" not in english
