from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from mesoclinic import views
from mesoclinic.api.urls import api_urls
from mesoclinic.calendars import views as calendar_views
from mesoclinic.clinics.permissions import Perm, include_requiring

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("mesoclinic.clinics.urls_account")),
    path("clinic/", include("mesoclinic.clinics.urls")),
    path("patients/", include("mesoclinic.patients.urls")),
    path("formulas/", include("mesoclinic.formulas.urls")),
    path("reminders/", include("mesoclinic.reminders.urls")),
    path("courses/", include("mesoclinic.courses.urls")),
    path("calendars/", include("mesoclinic.calendars.urls")),
    path("screening/", include("mesoclinic.screening.urls")),
    path("consent/", include("mesoclinic.consent.urls")),
    path("charts/", include("mesoclinic.charts.urls")),
    path("follow-up/", include("mesoclinic.followup.urls")),
    path("outcomes/", include("mesoclinic.outcomes.urls")),
    path("portal/", include("mesoclinic.portal.urls")),
    path("evidence/", include("mesoclinic.evidence.urls")),
    # The language switch, open to the portal's sign-in page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    # Public: calendar apps cannot sign in, the secret in the URL is the credential.
    path("calendar/<str:token>.ics", calendar_views.feed, name="calendar-feed"),
    path(
        "catalogue/", include(include_requiring("mesoclinic.catalogue.urls", Perm.CATALOGUE_VIEW))
    ),
    path("api/v1/", api_urls()),
]
