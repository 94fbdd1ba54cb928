"""Inviting a patient to the portal, and the patient accepting.

The clinic invites: a link is emailed to the patient, and a six-digit code is shown once to
the staff member, who gives it to the patient in person or on the phone. Accepting needs
both, so that neither a forwarded email nor an overheard code opens the record alone. Only a
digest of the link's token and a keyed hash of the code are stored.

Every refusal is a ``ValidationError`` whose sentence says what to do, raised before anything
changes (one exception, as for consent codes: a code tried uses up an attempt even when it is
wrong; that is what the attempts are for). Every write is in the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import STAFF_ROLES, AuditAction, Role, User
from mesoclinic.clinics.permissions import ROLE_PERMISSIONS, Perm
from mesoclinic.consent.services import masked_email
from mesoclinic.patients.models import Patient, PortalAccount
from mesoclinic.portal.models import Invitation

logger = logging.getLogger(__name__)

VALID_DAYS = 7
CODE_DIGITS = 6
CODE_ATTEMPTS = 5
INVITATIONS_PER_DAY = 5
# 32 random bytes: 256 bits, written in 43 URL-safe characters.
TOKEN_BYTES = 32


class InvitationClosed(ValidationError):
    """The link can no longer be used: unknown (``status`` 404), or expired, used, replaced
    or out of attempts (410). The patient needs a new invitation from the clinic."""

    def __init__(self, message: str, *, status: int = 410) -> None:
        super().__init__(message)
        self.status = status


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(digest: str, code: str) -> str:
    # Keyed with the project's secret and tied to the one invitation (its token's digest), so
    # that a copy of the table gives neither the codes nor a way to try them offline cheaply.
    return salted_hmac(
        "mesoclinic.portal.invitation.code", f"{digest}:{code}", algorithm="sha256"
    ).hexdigest()


def may_invite(actor: User, patient: Patient) -> bool:
    """Staff of the patient's own clinic who may edit patients."""
    return (
        actor.is_active
        and actor.role in STAFF_ROLES
        and actor.clinic_id is not None
        and actor.clinic_id == patient.clinic_id
        and Perm.PATIENT_EDIT in ROLE_PERMISSIONS.get(actor.role, frozenset())
    )


def open_invitation_of(patient: Patient) -> Invitation | None:
    """The patient's invitation that can still be accepted, if any."""
    return (
        patient.invitations.filter(
            used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def site_url(request: HttpRequest | None, path: str) -> str:
    """An absolute URL of ``path``: from the request when there is one, else from the first
    trusted origin (``MESOCLINIC_CSRF_TRUSTED_ORIGINS``) or the first allowed host."""
    if request is not None:
        return request.build_absolute_uri(path)
    origins = list(settings.CSRF_TRUSTED_ORIGINS)
    if origins:
        return origins[0].rstrip("/") + path
    hosts = [host.lstrip(".") for host in settings.ALLOWED_HOSTS if host not in ("*", "")]
    return f"http://{hosts[0] if hosts else 'localhost'}{path}"


def invite(
    patient: Patient, actor: User, *, request: HttpRequest | None = None
) -> tuple[Invitation, str]:
    """Invite ``patient`` to the portal: email them a link and return the one-time code, to be
    shown once to ``actor`` and given to the patient by another way. An earlier invitation
    still open is revoked."""
    if not may_invite(actor, patient):
        raise PermissionDenied(_("Only the patient's clinic may invite them to the portal."))
    with transaction.atomic():
        # Locked so that two invitations sent at once cannot both pass the daily limit.
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
        email = patient.email.strip().lower()
        _check_invitable(patient, email)
        now = timezone.now()
        sent_today = patient.invitations.filter(created_at__gt=now - timedelta(days=1)).count()
        if sent_today >= INVITATIONS_PER_DAY:
            raise ValidationError(
                _(
                    "%(count)d invitations were sent to this patient in the last 24 hours: "
                    "wait until tomorrow before sending another."
                )
                % {"count": INVITATIONS_PER_DAY}
            )
        revoked = list(
            patient.invitations.filter(used_at__isnull=True, revoked_at__isnull=True)
            .filter(expires_at__gt=now)
            .values_list("pk", flat=True)
        )
        patient.invitations.filter(used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        digest = token_digest(token)
        invitation = Invitation.objects.create(
            patient=patient,
            token_digest=digest,
            code_hash=_code_hash(digest, code),
            sent_to=email,
            created_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=VALID_DAYS),
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=invitation,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            sent_to=masked_email(email),
            expires_at=invitation.expires_at.isoformat(),
            revoked=revoked,
        )
        link = site_url(request, reverse("portal:invitation", kwargs={"token": token}))
        try:
            _invitation_email(patient, invitation, link).send()
        except Exception:  # whatever the mail backend raises: nothing stored, say so
            logger.exception("The portal invitation of patient %s could not be sent.", patient.pk)
            raise ValidationError(
                _(
                    "The invitation could not be sent: the mail server did not accept it. "
                    "Try again later."
                )
            ) from None
    return invitation, code


def _check_invitable(patient: Patient, email: str) -> None:
    if patient.erased_at is not None:
        raise ValidationError(
            _("This patient's identity was erased: they cannot be invited to the portal.")
        )
    if not email:
        raise ValidationError(
            _("Add the patient's email address first: the invitation link is sent to it.")
        )
    if PortalAccount.objects.filter(patient=patient).exists():
        raise ValidationError(_("This patient already has a portal account."))
    if User.objects.filter(username__iexact=email).exists():
        raise ValidationError(
            _(
                "The email address %(email)s already signs in to another account (of this "
                "clinic or another one): portal accounts shared across clinics are not "
                "supported. Ask the patient for another email address."
            )
            % {"email": email}
        )


def _invitation_email(patient: Patient, invitation: Invitation, link: str) -> EmailMessage:
    clinic = patient.clinic
    with translation.override(patient.preferred_language), timezone.override(clinic.tz):
        context = {
            "patient": patient,
            "clinic": clinic,
            "link": link,
            "expires_at": invitation.expires_at,
            "days": VALID_DAYS,
        }
        subject = _("%(clinic)s invites you to its patient portal") % {"clinic": clinic.name}
        body = render_to_string("portal/access/invitation_email.txt", context)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.sent_to],
        reply_to=[clinic.email] if clinic.email else None,
        headers={
            "Auto-Submitted": "auto-generated",
            "Content-Language": patient.preferred_language,
        },
    )


# --- accepting ----------------------------------------------------------------------------


def find(token: str) -> Invitation:
    """The invitation of ``token`` if it can still be accepted; ``InvitationClosed`` says why
    not."""
    invitation = (
        Invitation.objects.select_related("patient__clinic")
        .filter(token_digest=token_digest(token))
        .first()
    )
    if invitation is None:
        raise InvitationClosed(
            _("This invitation link is not known: ask your clinic for a new invitation."),
            status=404,
        )
    patient = invitation.patient
    if invitation.used_at is not None or PortalAccount.objects.filter(patient=patient).exists():
        raise InvitationClosed(
            _(
                "This invitation has been used already: sign in with your email address and "
                "password. If that was not you, call your clinic."
            )
        )
    if invitation.revoked_at is not None:
        raise InvitationClosed(
            _(
                "This invitation was replaced by a newer one: use the link in the newest "
                "email, or ask your clinic for a new invitation."
            )
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationClosed(
            _("This invitation has expired: ask your clinic for a new invitation.")
        )
    if invitation.attempts >= CODE_ATTEMPTS:
        raise InvitationClosed(
            _(
                "Too many wrong codes were tried with this invitation: ask your clinic for a "
                "new invitation."
            )
        )
    if patient.erased_at is not None or patient.email.strip().lower() != invitation.sent_to:
        raise InvitationClosed(
            _(
                "Your clinic's record has changed since this invitation was sent: ask your "
                "clinic for a new invitation."
            )
        )
    return invitation


def accept(
    token: str,
    code: str,
    password: str,
    password2: str,
    *,
    request: HttpRequest | None = None,
) -> User:
    """The patient accepts the invitation of ``token`` with the ``code`` the clinic gave them
    and chooses a password: their portal account is made and the invitation used up.

    Refusals: ``InvitationClosed`` when the link cannot be used any more, a ``ValidationError``
    with a dict of field errors (``code``, ``password``, ``password2``) otherwise."""
    invitation = find(token)
    patient = invitation.patient
    email = invitation.sent_to
    account = User(
        username=email,
        email=email,
        first_name=patient.given_name,
        last_name=patient.family_name,
        role=Role.PATIENT,
        clinic=patient.clinic,
    )
    # The password first: a weak one is retyped without using up an attempt at the code.
    if password != password2:
        raise ValidationError({"password2": _("The two passwords are not the same.")})
    try:
        password_validation.validate_password(password, user=account)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    _check_code(invitation, code, request)
    now = timezone.now()
    try:
        with transaction.atomic():
            # Conditional: of two requests racing with the right code, one makes the account.
            if not Invitation.objects.filter(
                pk=invitation.pk, used_at__isnull=True, revoked_at__isnull=True
            ).update(used_at=now):
                raise InvitationClosed(
                    _("This invitation has been used already: sign in with your password.")
                )
            if User.objects.filter(username__iexact=email).exists():
                raise ValidationError(
                    _(
                        "Your email address already signs in to another account: ask your "
                        "clinic to use another address for your invitation."
                    )
                )
            account.set_password(password)
            account.save()
            linked = PortalAccount.objects.create(patient=patient, user=account)
            audit.record(
                AuditAction.CREATE,
                request=request,
                actor=account,
                obj=linked,
                patient_id=patient.pk,
                clinic_id=patient.clinic_id,
                invitation=invitation.pk,
            )
    except IntegrityError:  # the same address or record taken meanwhile
        raise InvitationClosed(
            _("This invitation has been used already: sign in with your password.")
        ) from None
    password_validation.password_changed(password, account)
    return account


def _check_code(invitation: Invitation, code: str, request: HttpRequest | None) -> None:
    # The attempt is counted before the code is compared, in one conditional statement, so
    # that requests racing each other cannot try more codes than allowed.
    counted = Invitation.objects.filter(
        pk=invitation.pk,
        attempts__lt=CODE_ATTEMPTS,
        used_at__isnull=True,
        revoked_at__isnull=True,
    ).update(attempts=F("attempts") + 1)
    if not counted:
        raise InvitationClosed(
            _(
                "Too many wrong codes were tried with this invitation: ask your clinic for a "
                "new invitation."
            )
        )
    typed = "".join(code.split())
    if constant_time_compare(_code_hash(invitation.token_digest, typed), invitation.code_hash):
        return
    left = CODE_ATTEMPTS - (invitation.attempts + 1)
    # Recorded: the attempt was used up, and wrong codes are what an attack looks like.
    audit.record(
        AuditAction.UPDATE,
        request=request,
        actor=None,
        obj=invitation,
        patient_id=invitation.patient_id,
        clinic_id=invitation.patient.clinic_id,
        wrong_code=True,
        attempts_left=left,
    )
    if left <= 0:
        raise InvitationClosed(
            _(
                "The code is not the one your clinic gave you, and no attempt is left: ask "
                "your clinic for a new invitation."
            )
        )
    raise ValidationError(
        {
            "code": ngettext(
                "The code is not the one your clinic gave you: %(left)d attempt left.",
                "The code is not the one your clinic gave you: %(left)d attempts left.",
                left,
            )
            % {"left": left}
        }
    )
