from django.urls import path

from mesoclinic.evidence import alert_views, export_views, outcome_views, safety_views

app_name = "evidence"

urlpatterns: list = [
    path("", outcome_views.outcomes, name="outcomes"),
    path("outcomes.csv", outcome_views.outcomes_csv, name="outcomes-csv"),
    path("export/", export_views.export_page, name="export"),
    path("export/download/", export_views.export_download, name="export-download"),
    path("safety/", safety_views.safety, name="safety"),
    path("safety.csv", safety_views.safety_csv, name="safety-csv"),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/infections-by-week.csv", alert_views.alerts_csv, name="alerts-csv"),
    path("alerts/scan/", alert_views.alerts_scan, name="alerts-scan"),
    path("alerts/<int:pk>/", alert_views.alert_detail, name="alert"),
    path("alerts/<int:pk>/quarantine/", alert_views.alert_quarantine, name="alert-quarantine"),
    path("alerts/<int:pk>/close/", alert_views.alert_close, name="alert-close"),
    path("alerts/contacts/<int:pk>/", alert_views.alert_contact, name="alert-contact"),
]
