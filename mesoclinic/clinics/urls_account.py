from django.urls import path

from mesoclinic.clinics import account_views

app_name = "account"
urlpatterns = [
    path("", account_views.account_index, name="index"),
    path("tokens/", account_views.token_create, name="token-create"),
    path("tokens/<int:pk>/revoke/", account_views.token_revoke, name="token-revoke"),
    path("password/", account_views.password_change, name="password-change"),
    path("two-factor/", account_views.two_factor_view, name="two-factor"),
    path("logout-everywhere/", account_views.logout_everywhere, name="logout-everywhere"),
]
