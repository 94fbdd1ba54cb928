from django.urls import path

from mesoclinic.calendars import views

app_name = "calendars"
urlpatterns = [
    path("mine/", views.my_feed, name="mine"),
    path("mine/new/", views.my_feed_create, name="mine-create"),
    path("mine/revoke/", views.my_feed_revoke, name="mine-revoke"),
    path("patients/<int:patient_pk>/", views.patient_feed, name="patient"),
    path("patients/<int:patient_pk>/new/", views.patient_feed_create, name="patient-create"),
    path("patients/<int:patient_pk>/revoke/", views.patient_feed_revoke, name="patient-revoke"),
    path("plans/<int:plan_pk>.ics", views.plan_ics, name="plan-ics"),
]
