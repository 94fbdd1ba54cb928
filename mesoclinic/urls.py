from django.contrib.auth import views as auth_views
from django.urls import include, path

from mesoclinic import views
from mesoclinic.api.urls import api_urls
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
    path(
        "catalogue/", include(include_requiring("mesoclinic.catalogue.urls", Perm.CATALOGUE_VIEW))
    ),
    path("api/v1/", api_urls()),
]
