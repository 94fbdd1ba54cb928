"""Staff and licence actions of a clinic administrator: each one change, audited.

Views and API operations fetch the objects through the tenancy helpers and call these; the
functions trust that the objects they are given belong to the actor's clinic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Licence, Role, User
from mesoclinic.clinics.permissions import signed_in_user

# Roles an administrator gives from the staff page; patients get their accounts from the portal.
ASSIGNABLE_ROLES = (Role.ADMIN, Role.PRACTITIONER, Role.ASSISTANT, Role.RESEARCHER)
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# The first bytes of each accepted format: the extension and the browser's content type are
# whatever the uploader's machine says, the content is what a reader will open.
DOCUMENT_SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}


class StaffError(ValueError):
    """An administrator's action that cannot be done, with the reason in a sentence."""


@transaction.atomic
def add_staff(
    request: HttpRequest,
    *,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: Role | str,
    password: str,
) -> User:
    """A new staff member of the administrator's clinic, with a temporary password that
    Django's validators accept. They set up two-factor sign-in at their first sign-in."""
    admin = signed_in_user(request)
    if role not in ASSIGNABLE_ROLES:
        raise StaffError(f"{role!r} is not a role given from the staff page.")
    if User.objects.filter(username__iexact=username).exists():
        raise StaffError(f"The username {username} is taken.")
    candidate = User(
        username=username, first_name=first_name, last_name=last_name, email=email, role=role
    )
    validate_password(password, user=candidate)
    user = User.objects.create_user(
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name,
        email=email,
        role=role,
        clinic_id=admin.clinic_id,
    )
    audit.record(AuditAction.CREATE, request=request, obj=user, role=str(role))
    return user


def _refuse_self(request: HttpRequest, member: User, what: str) -> None:
    # An administrator who demotes or deactivates themselves may leave the clinic with no one
    # able to manage staff; another administrator does it.
    if member.pk == request.user.pk:
        raise StaffError(f"You cannot {what} your own account; ask another administrator.")


@transaction.atomic
def change_role(request: HttpRequest, member: User, role: Role | str) -> User:
    _refuse_self(request, member, "change the role of")
    if role not in ASSIGNABLE_ROLES:
        raise StaffError(f"{role!r} is not a role given from the staff page.")
    previous = member.role
    if previous == role:
        return member
    member.role = role
    # Sessions opened under the old role end: the new permissions apply from the next sign-in.
    member.session_generation += 1
    member.save(update_fields=["role", "session_generation"])
    audit.record(AuditAction.UPDATE, request=request, obj=member, role=[previous, str(role)])
    return member


@transaction.atomic
def deactivate_staff(request: HttpRequest, member: User) -> User:
    """Deactivated, never deleted: the audit trail and signed records keep pointing at them."""
    _refuse_self(request, member, "deactivate")
    if not member.is_active:
        return member
    member.is_active = False
    member.session_generation += 1
    member.save(update_fields=["is_active", "session_generation"])
    audit.record(AuditAction.UPDATE, request=request, obj=member, is_active=[True, False])
    return member


@transaction.atomic
def reset_two_factor(request: HttpRequest, member: User) -> User:
    """Remove the member's devices (a lost phone): their next sign-in sets up a new one. Open
    sessions end too, since they were verified with the old device."""
    removed, _ = TOTPDevice.objects.filter(user=member).delete()
    member.session_generation += 1
    member.save(update_fields=["session_generation"])
    audit.record(AuditAction.UPDATE, request=request, obj=member, two_factor_reset=removed)
    return member


def validate_document(document: UploadedFile) -> None:
    """A scanned licence: PDF, PNG or JPEG by name and by content, at most 10 MB."""
    name = (document.name or "").lower()
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in DOCUMENT_SIGNATURES:
        raise ValidationError("Upload the scan as a PDF, PNG or JPEG file.")
    if document.size is not None and document.size > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            f"The scan is {document.size / 1_048_576:.1f} MB; the limit is "
            f"{MAX_DOCUMENT_BYTES // 1_048_576} MB."
        )
    document.seek(0)
    head = document.read(16)
    document.seek(0)
    if not head.startswith(DOCUMENT_SIGNATURES[suffix]):
        raise ValidationError(f"The file is named {suffix[1:].upper()} but is not one.")


@transaction.atomic
def save_licence(request: HttpRequest, licence: Licence, *, creating: bool) -> Licence:
    """Save a licence added or edited by the clinic. Editing a verified licence withdraws the
    verification: what was checked against the document is no longer what is recorded."""
    changed: list[str] = []
    if not creating:
        previous = Licence.objects.get(pk=licence.pk)
        fields = ("number", "issuing_body", "jurisdiction", "valid_from", "valid_until")
        changed = [f for f in fields if getattr(previous, f) != getattr(licence, f)]
        if licence.document.name != previous.document.name:
            changed.append("document")
        if changed and licence.is_verified:
            licence.verified_at = None
            licence.verified_by = None
    licence.full_clean()
    licence.save()
    action = AuditAction.CREATE if creating else AuditAction.UPDATE
    audit.record(
        action,
        request=request,
        obj=licence,
        clinic_id=licence.practitioner.clinic_id,
        changed=changed,
    )
    return licence


@transaction.atomic
def verify_licence(request: HttpRequest, licence: Licence) -> Licence:
    if licence.practitioner_id == request.user.pk:
        raise StaffError("Your own licence is verified by another administrator.")
    licence.verified_by = signed_in_user(request)
    licence.verified_at = timezone.now()
    licence.save(update_fields=["verified_by", "verified_at"])
    audit.record(
        AuditAction.UPDATE,
        request=request,
        obj=licence,
        clinic_id=licence.practitioner.clinic_id,
        verified=True,
    )
    return licence


@dataclass(frozen=True)
class LicenceAlerts:
    expiring: list[Licence]
    expired: list[Licence]
    within_days: int

    def __bool__(self) -> bool:
        return bool(self.expiring or self.expired)


def licence_alerts(
    licences: QuerySet[Licence], today: date, within_days: int = 60
) -> LicenceAlerts:
    """Of ``licences`` (already scoped to a clinic), each active practitioner's latest one
    when it ends within ``within_days`` of ``today`` or has already ended. A practitioner
    whose licence was renewed, or who holds one with no end date, raises no alert."""
    latest: dict[int, Licence] = {}
    open_ended: set[int] = set()
    for licence in licences.select_related("practitioner").filter(practitioner__is_active=True):
        if licence.valid_until is None:
            open_ended.add(licence.practitioner_id)
            continue
        best = latest.get(licence.practitioner_id)
        if best is None or licence.valid_until > best.valid_until:  # type: ignore[operator]
            latest[licence.practitioner_id] = licence
    current = [lic for pid, lic in latest.items() if pid not in open_ended]
    horizon = today + timedelta(days=within_days)
    return LicenceAlerts(
        expiring=sorted(
            (lic for lic in current if today <= lic.valid_until <= horizon),  # type: ignore[operator]
            key=lambda lic: lic.valid_until,  # type: ignore[arg-type,return-value]
        ),
        expired=sorted(
            (lic for lic in current if lic.valid_until < today),  # type: ignore[operator]
            key=lambda lic: lic.valid_until,  # type: ignore[arg-type,return-value]
        ),
        within_days=within_days,
    )
