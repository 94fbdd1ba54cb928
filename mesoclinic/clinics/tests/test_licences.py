from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, Licence, User
from mesoclinic.clinics.services import MAX_DOCUMENT_BYTES, licence_alerts

ClientFor = Callable[[User], Client]
DAY = date(2026, 3, 14)
PDF = b"%PDF-1.7\n%scan of a licence\n"


def licence(
    practitioner: User,
    valid_from: date,
    valid_until: date | None,
    *,
    verified_by: User | None = None,
    number: str = "10001",
) -> Licence:
    return Licence.objects.create(
        practitioner=practitioner,
        number=number,
        issuing_body="Ordre des médecins",
        jurisdiction="France",
        valid_from=valid_from,
        valid_until=valid_until,
        verified_by=verified_by,
        verified_at=timezone.now() if verified_by else None,
    )


# licence_check: the one function booking and signing will call.


def test_missing_licence(pat: User) -> None:
    check = licence_check(pat, DAY)
    assert not check.ok and "no licence" in check.reason


def test_unverified_licence(pat: User) -> None:
    licence(pat, DAY - timedelta(days=100), DAY + timedelta(days=100))
    check = licence_check(pat, DAY)
    assert not check.ok and "not been verified" in check.reason


def test_licence_is_valid_on_its_last_day_and_expired_the_day_after(pat: User, alice: User) -> None:
    licence(pat, DAY - timedelta(days=365), DAY, verified_by=alice)
    assert licence_check(pat, DAY).ok
    check = licence_check(pat, DAY + timedelta(days=1))
    assert not check.ok and "valid on 15 Mar 2026" in check.reason


def test_licence_valid_from_tomorrow_does_not_cover_today(pat: User, alice: User) -> None:
    licence(pat, DAY + timedelta(days=1), None, verified_by=alice)
    assert not licence_check(pat, DAY).ok
    assert licence_check(pat, DAY + timedelta(days=1)).ok


def test_verified_licence_covering_the_day(pat: User, alice: User) -> None:
    found = licence(pat, DAY - timedelta(days=10), DAY + timedelta(days=10), verified_by=alice)
    check = licence_check(pat, DAY)
    assert check.ok and check.licence == found


def test_not_a_practitioner(asha: User) -> None:
    assert not licence_check(asha, DAY).ok


def test_today_is_the_clinics_day_not_the_servers(pat: User, alice: User, clinic_a: Clinic) -> None:
    # 23:30 UTC on 14 March is already 15 March in Paris: a licence ending on the 14th no
    # longer covers the clinic's today.
    licence(pat, DAY - timedelta(days=30), DAY, verified_by=alice)
    late_evening_utc = datetime(2026, 3, 14, 23, 30, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=late_evening_utc):
        assert clinic_a.today() == DAY + timedelta(days=1)
        assert not licence_check(pat, clinic_a.today()).ok
    with mock.patch(
        "django.utils.timezone.now", return_value=late_evening_utc - timedelta(hours=1)
    ):
        assert clinic_a.today() == DAY
        assert licence_check(pat, clinic_a.today()).ok


def test_alerts_list_expiring_and_expired_but_not_renewed(
    pat: User, alice: User, asha: User, bob: User, clinic_a: Clinic
) -> None:
    dana = User.objects.create_user("dana", role="practitioner", clinic=clinic_a)
    ends_soon = licence(pat, DAY - timedelta(days=300), DAY + timedelta(days=59), verified_by=alice)
    expired = licence(dana, DAY - timedelta(days=400), DAY - timedelta(days=1), verified_by=alice)
    licence(bob, DAY - timedelta(days=300), DAY + timedelta(days=5), verified_by=alice)
    alerts = licence_alerts(Licence.objects.filter(practitioner__clinic=clinic_a), DAY)
    assert alerts.expiring == [ends_soon] and alerts.expired == [expired]
    # Renewed: the new licence follows the old one, so there is nothing to remind.
    licence(dana, DAY - timedelta(days=1), DAY + timedelta(days=700), verified_by=alice, number="2")
    alerts = licence_alerts(Licence.objects.filter(practitioner__clinic=clinic_a), DAY)
    assert alerts.expired == []


# Pages.


@pytest.fixture
def media(tmp_path: Path, settings: object) -> Path:
    settings.MEDIA_ROOT = tmp_path  # type: ignore[attr-defined]
    return tmp_path


def licence_form(
    practitioner: User, document: SimpleUploadedFile | None = None, **changes: object
) -> dict[str, object]:
    data: dict[str, object] = {
        "practitioner": practitioner.pk,
        "number": "RPPS 10101010101",
        "issuing_body": "Conseil national de l'Ordre des médecins",
        "jurisdiction": "France",
        "valid_from": "2025-01-01",
        "valid_until": "2027-12-31",
    }
    if document is not None:
        data["document"] = document
    return data | changes


def test_admin_adds_a_licence_with_its_scan_and_verifies_it(
    client_for: ClientFor, alice: User, pat: User, media: Path
) -> None:
    client = client_for(alice)
    scan = SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf")
    response = client.post(reverse("clinics:licence-add"), licence_form(pat, scan))
    assert response.status_code == 302
    added = Licence.objects.get(practitioner=pat)
    assert not added.is_verified
    assert (media / str(added.document.name)).read_bytes() == PDF
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="clinics.Licence"
    ).exists()
    client.post(reverse("clinics:licence-verify", args=[added.pk]))
    added.refresh_from_db()
    assert added.verified_by == alice and added.verified_at is not None
    assert licence_check(pat, date(2026, 3, 14)).ok
    download = client.get(reverse("clinics:licence-document", args=[added.pk]))
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("licence.exe", b"MZ...", "PDF, PNG or JPEG"),
        ("licence.pdf", b"<html>not a pdf</html>", "is not one"),
        ("licence.png", b"%PDF-1.7", "is not one"),
        ("licence.pdf", b"%PDF-" + b"0" * MAX_DOCUMENT_BYTES, "the limit is 10 MB"),
    ],
)
def test_a_bad_scan_is_refused(
    client_for: ClientFor,
    alice: User,
    pat: User,
    media: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    scan = SimpleUploadedFile(name, content)
    response = client_for(alice).post(reverse("clinics:licence-add"), licence_form(pat, scan))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["document"])
    assert not Licence.objects.exists()
    assert not any(media.rglob("*.*"))


def test_valid_until_before_valid_from_is_refused(
    client_for: ClientFor, alice: User, pat: User
) -> None:
    response = client_for(alice).post(
        reverse("clinics:licence-add"), licence_form(pat, valid_until="2024-01-01")
    )
    assert response.status_code == 200
    assert not Licence.objects.exists()


def test_editing_a_verified_licence_withdraws_the_verification(
    client_for: ClientFor, alice: User, pat: User
) -> None:
    found = licence(pat, date(2025, 1, 1), date(2027, 1, 1), verified_by=alice)
    response = client_for(alice).post(
        reverse("clinics:licence-edit", args=[found.pk]),
        licence_form(pat, number=found.number, valid_until="2030-01-01"),
    )
    assert response.status_code == 302
    found.refresh_from_db()
    assert found.valid_until == date(2030, 1, 1) and not found.is_verified


def test_a_licence_cannot_be_given_to_another_clinics_practitioner(
    client_for: ClientFor, alice: User, bob: User
) -> None:
    response = client_for(alice).post(reverse("clinics:licence-add"), licence_form(bob))
    assert response.status_code == 200 and response.context["form"].errors["practitioner"]
    assert not Licence.objects.exists()


def test_clinic_b_licences_are_not_found(client_for: ClientFor, alice: User, bob: User) -> None:
    theirs = licence(bob, date(2025, 1, 1), None)
    client = client_for(alice)
    assert client.post(reverse("clinics:licence-verify", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("clinics:licence-edit", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("clinics:licence-document", args=[theirs.pk])).status_code == 404
    assert "10001" not in client.get(reverse("clinics:licences")).content.decode()
    theirs.refresh_from_db()
    assert not theirs.is_verified


def test_staff_see_licences_but_only_an_admin_manages_them(
    client_for: ClientFor, alice: User, pat: User, asha: User
) -> None:
    found = licence(pat, date(2025, 1, 1), None)
    client = client_for(asha)
    assert client.get(reverse("clinics:licences")).status_code == 200
    assert client.get(reverse("clinics:licence-add")).status_code == 403
    assert client.post(reverse("clinics:licence-verify", args=[found.pk])).status_code == 403
    found.refresh_from_db()
    assert not found.is_verified


def test_expiring_licences_show_on_the_licences_page_and_the_admins_home(
    client_for: ClientFor, alice: User, pat: User, asha: User, clinic_a: Clinic
) -> None:
    today = clinic_a.today()
    licence(pat, today - timedelta(days=300), today + timedelta(days=20), verified_by=alice)
    for page in (reverse("clinics:licences"), reverse("home")):
        assert "Expiring within 60 days" in client_for(alice).get(page).content.decode()
    assert "Licences to renew" not in client_for(asha).get(reverse("home")).content.decode()


def test_the_licence_form_offers_only_the_clinics_practitioners(
    client_for: ClientFor, alice: User, pat: User, asha: User, bob: User
) -> None:
    response = client_for(alice).get(reverse("clinics:licence-add"))
    assert response.status_code == 200
    assert list(response.context["form"].fields["practitioner"].queryset) == [pat]
    page = client_for(alice).get(reverse("clinics:licences")).content.decode()
    assert "Cannot practise today" in page and "has no licence on record" in page
