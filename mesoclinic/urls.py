from django.contrib.auth import views as auth_views
from django.urls import include, path

from mesoclinic import views
from mesoclinic.api.urls import api_urls

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("catalogue/", include("mesoclinic.catalogue.urls")),
    path("api/v1/", api_urls()),
]
