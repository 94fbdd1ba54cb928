"""/api/v1/clinic/: the clinic's staff and licences, and the caller's own API tokens."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from mesoclinic.clinics import audit, services, tokens
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import ApiToken, AuditAction, Licence, Role, User
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped

router = Router(tags=["clinic"])

MAX_EXPIRING_WITHIN = 36_500  # days: a hundred years


class LicenceStatus(Schema):
    ok: bool
    reason: str


class StaffOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    is_active: bool
    licence_today: LicenceStatus | None = Field(
        None, description="For practitioners: whether they may practise today."
    )


class LicenceIn(Schema):
    practitioner_id: int
    number: str = Field(..., min_length=1, max_length=80)
    issuing_body: str = Field(..., min_length=1, max_length=200)
    jurisdiction: str = Field(..., min_length=1, max_length=120)
    valid_from: date
    valid_until: date | None = None


class LicenceOut(Schema):
    id: int
    practitioner_id: int
    number: str
    issuing_body: str
    jurisdiction: str
    valid_from: date
    valid_until: date | None
    has_document: bool
    verified_by_id: int | None
    verified_at: datetime | None

    @staticmethod
    def resolve_has_document(licence: Licence) -> bool:
        return bool(licence.document)


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    key: str = Field(..., description="Shown in this response only; it is stored hashed.")


def _today(request: HttpRequest) -> date:
    user = signed_in_user(request)
    assert user.clinic is not None  # staff permissions are never granted without a clinic
    return user.clinic.today()


def _licence_status(practitioner: User, day: date) -> LicenceStatus:
    check = licence_check(practitioner, day)
    return LicenceStatus(ok=check.ok, reason=check.reason)


@router.get("/staff", response=list[StaffOut], summary="The clinic's staff")
@api_requires(Perm.STAFF_VIEW)
def list_staff(request: HttpRequest) -> list[StaffOut]:
    today = _today(request)
    members = scoped(request, User).prefetch_related("licences").order_by("last_name", "first_name")
    return [
        StaffOut(
            id=m.pk,
            username=m.username,
            first_name=m.first_name,
            last_name=m.last_name,
            email=m.email,
            role=m.role,
            is_active=m.is_active,
            licence_today=_licence_status(m, today) if m.role == Role.PRACTITIONER else None,
        )
        for m in members
    ]


@router.get(
    "/licences",
    response=list[LicenceOut],
    summary="The clinic's licences",
    openapi_extra={"responses": {"400": {"description": "expiring_within is out of range."}}},
)
@api_requires(Perm.LICENCE_VIEW)
def list_licences(request: HttpRequest, expiring_within: int | None = None) -> list[Licence]:
    """With ``expiring_within=N``: only licences ending between today and N days from today,
    in the clinic's time zone."""
    licences = scoped(request, Licence).order_by("valid_until", "pk")
    if expiring_within is not None:
        # Bounded so that today + N days stays a date (a larger N overflowed into a 500).
        if not 0 <= expiring_within <= MAX_EXPIRING_WITHIN:
            raise HttpError(
                400, f"expiring_within is a number of days, from 0 to {MAX_EXPIRING_WITHIN}."
            )
        today = _today(request)
        licences = licences.filter(
            valid_until__gte=today, valid_until__lte=today + timedelta(days=expiring_within)
        )
    return list(licences)


@router.post(
    "/licences",
    response={201: LicenceOut},
    summary="Add a licence",
    openapi_extra={
        "responses": {"404": {"description": "No practitioner of the clinic has this id."}}
    },
)
@api_requires(Perm.LICENCE_MANAGE)
def add_licence(request: HttpRequest, payload: LicenceIn) -> Status[Licence]:
    """The scanned document is uploaded from the licences page."""
    practitioner = get_scoped_or_404(
        request, User, pk=payload.practitioner_id, role=Role.PRACTITIONER
    )
    licence = Licence(practitioner=practitioner, **payload.dict(exclude={"practitioner_id"}))
    try:
        return Status(201, services.save_licence(request, licence, creating=True))
    except ValidationError as exc:
        raise HttpError(400, " ".join(exc.messages)) from exc


@router.post("/licences/{licence_id}/verify", response=LicenceOut, summary="Verify a licence")
@api_requires(Perm.LICENCE_MANAGE)
def verify_licence(request: HttpRequest, licence_id: int) -> Licence:
    licence = get_scoped_or_404(request, Licence, pk=licence_id)
    try:
        return services.verify_licence(request, licence)
    except services.StaffError as exc:
        raise HttpError(400, str(exc)) from exc


@router.get("/tokens", response=list[TokenOut], summary="Your API tokens")
@api_requires(Perm.ACCOUNT_SELF)
def list_tokens(request: HttpRequest) -> list[ApiToken]:
    user = signed_in_user(request)
    return list(ApiToken.objects.filter(user=user))


@router.post("/tokens", response={201: TokenCreated}, summary="Create an API token")
@api_requires(Perm.ACCOUNT_SELF)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenCreated]:
    user = signed_in_user(request)
    token, key = tokens.create_token(user, payload.name)
    audit.record(AuditAction.CREATE, request=request, obj=token, prefix=token.prefix)
    return Status(201, TokenCreated(**TokenOut.from_orm(token).dict(), key=key))


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke an API token")
@api_requires(Perm.ACCOUNT_SELF)
def revoke_token(request: HttpRequest, token_id: int) -> Status[None]:
    # One's own tokens only: another user's token is not found.
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    tokens.revoke_token(token)
    audit.record(AuditAction.UPDATE, request=request, obj=token, revoked=True)
    return Status(204, None)
