from django.urls import URLPattern, path

from mesoclinic.portal import views_after as views

urlpatterns: list[URLPattern] = [
    path("aftercare/", views.aftercare, name="aftercare"),
    path("aftercare/sessions/<int:chart_pk>/follow-up/", views.follow_up, name="follow-up"),
    path("aftercare/sessions/<int:chart_pk>/report/", views.report, name="report"),
    path("aftercare/reports/<int:event_pk>/", views.report_sent, name="report-sent"),
    path("aftercare/photos/<int:event_photo_pk>/", views.event_photo, name="event-photo"),
]
