"""Getting into the portal (signing in and out, invitations, the account) and, for staff,
inviting a patient: mesoclinic/portal/views_access.py."""

from django.urls import URLPattern, path

from mesoclinic.portal import views_access as views

urlpatterns: list[URLPattern] = [
    path("sign-in/", views.login_view, name="login"),
    path("sign-in/code/", views.login_code, name="login-code"),
    path("sign-in/code/verify/", views.login_code_verify, name="login-code-verify"),
    path("sign-out/", views.logout_view, name="logout"),
    path("invitation/<str:token>/", views.invitation_view, name="invitation"),
    path("account/", views.account, name="account"),
    path("account/access-log/", views.access_log, name="access-log"),
    path("invite/<int:patient_pk>/", views.invite_view, name="invite"),
]
