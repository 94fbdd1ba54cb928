from django.urls import path

from mesoclinic.screening import views

app_name = "screening"

urlpatterns: list = []
