from django.urls import path

from mesoclinic.screening import views

app_name = "screening"

urlpatterns = [
    path("", views.today, name="today"),
    path("appointments/<int:pk>/", views.appointment, name="appointment"),
    path("appointments/<int:pk>/check-in/", views.check_in, name="check-in"),
    path("appointments/<int:pk>/run/", views.rerun, name="run"),
    path("findings/<int:pk>/override/", views.override, name="override"),
    path("plans/<int:pk>/prescriptions/", views.prescriptions, name="prescriptions"),
    path("plans/<int:pk>/prescriptions/add/", views.prescription_add, name="prescription-add"),
]
