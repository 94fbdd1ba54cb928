from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login

from mesoclinic.clinics import audit, tokens, two_factor
from mesoclinic.clinics.forms import TokenForm
from mesoclinic.clinics.models import ApiToken, AuditAction
from mesoclinic.clinics.permissions import Perm, requires, signed_in_user


class CodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\d{6}$",
        label="6-digit code",
        error_messages={"invalid": "Enter the 6 digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


@requires(Perm.SECOND_FACTOR)
def two_factor_view(request: HttpRequest) -> HttpResponse:
    """Verify this session with a code; a staff member with no device sets one up first.
    (Non-staff roles may add a device too; staff cannot get past this page without one.)"""
    user = signed_in_user(request)
    device = two_factor.confirmed_device(user)
    setting_up = device is None
    if setting_up:
        device = two_factor.pending_device(user)
    assert device is not None
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            if setting_up:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit.record(AuditAction.LOGIN, request=request, second_factor="totp")
            return redirect(_next_url(request))
        form.add_error("code", "That code is not right or has expired; try the current one.")
    context = {"form": form, "setting_up": setting_up, "next": _next_url(request)}
    if setting_up:
        context |= {"qr_svg": two_factor.qr_svg(device), "secret": two_factor.secret_of(device)}
    return render(request, "account/two_factor.html", context)


@require_POST
@requires(Perm.ACCOUNT_SELF)
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this user, on every device, this one included."""
    user = signed_in_user(request)
    user.session_generation += 1
    user.save(update_fields=["session_generation"])
    audit.record(AuditAction.LOGOUT_EVERYWHERE, request=request, actor=user)
    logout(request)
    messages.info(request, "You have been signed out on every device.")
    return redirect("login")


def _account_page(
    request: HttpRequest, form: TokenForm, new_key: str | None = None
) -> HttpResponse:
    user = signed_in_user(request)
    return render(
        request,
        "account/index.html",
        {
            "tokens": user.api_tokens.all(),
            "token_form": form,
            "new_key": new_key,
            "has_device": two_factor.confirmed_device(user) is not None,
        },
    )


@require_GET
@requires(Perm.ACCOUNT_SELF)
def account_index(request: HttpRequest) -> HttpResponse:
    return _account_page(request, TokenForm())


@require_POST
@requires(Perm.ACCOUNT_SELF)
def token_create(request: HttpRequest) -> HttpResponse:
    """The key is in this one response and nowhere else: not in the database, not in a
    message stored in the session."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _account_page(request, form)
    user = signed_in_user(request)
    token, key = tokens.create_token(user, form.cleaned_data["name"])
    audit.record(AuditAction.CREATE, request=request, obj=token, prefix=token.prefix)
    return _account_page(request, TokenForm(), new_key=key)


@require_POST
@requires(Perm.ACCOUNT_SELF)
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # One's own tokens only: another user's token is not found.
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    tokens.revoke_token(token)
    audit.record(AuditAction.UPDATE, request=request, obj=token, revoked=True)
    messages.success(request, f"The token {token} is revoked; programs using it are refused.")
    return redirect("account:index")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's own, with the configured validators; the user's other sessions end, because
    the session hash includes the password, while this one is kept."""

    template_name = "account/password_change.html"
    success_url = reverse_lazy("account:index")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        audit.record(AuditAction.UPDATE, request=self.request, obj=self.request.user, password=True)  # type: ignore[arg-type]
        messages.success(self.request, "Your password is changed; your other sessions ended.")
        return response


# Wrapped here rather than on dispatch, so that the URL's view carries its permission like
# every other view (the permission test enumerates the URLconf).
password_change = requires(Perm.ACCOUNT_SELF)(PasswordChangeView.as_view())
