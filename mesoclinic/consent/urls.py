from django.urls import path

from mesoclinic.consent import views

app_name = "consent"

urlpatterns: list = []
