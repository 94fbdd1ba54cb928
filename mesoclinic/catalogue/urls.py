from django.urls import path

from mesoclinic.catalogue import views

app_name = "catalogue"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.section, name="section"),
]
