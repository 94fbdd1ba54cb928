from django.urls import path

from mesoclinic.followup import views

app_name = "followup"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("flags/<int:pk>/close/", views.close_flag, name="flag-close"),
    path("charts/<int:chart_pk>/", views.chart, name="chart"),
    path("charts/<int:chart_pk>/answer/", views.answer, name="answer"),
    path("charts/<int:chart_pk>/report/", views.report, name="report"),
    path("events/<int:pk>/", views.event, name="event"),
    path("events/<int:pk>/update/", views.event_update, name="event-update"),
    path("events/<int:pk>/causality/", views.event_causality, name="event-causality"),
    path("events/<int:pk>/retract/", views.event_retract, name="event-retract"),
    path("event-photos/<int:pk>/", views.event_photo, name="event-photo"),
    path("patients/<int:patient_pk>/", views.patient, name="patient"),
]
