from django.urls import path

from mesoclinic.outcomes import views

app_name = "outcomes"

urlpatterns = [
    path("courses/<int:plan_pk>/", views.measurements, name="measurements"),
    path("courses/<int:plan_pk>/record/", views.record, name="record"),
    path("measurements/<int:pk>/retract/", views.retract, name="retract"),
]
