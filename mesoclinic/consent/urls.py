from django.urls import path

from mesoclinic.consent import views

app_name = "consent"

urlpatterns = [
    path("plans/<int:plan_pk>/", views.plan_consents, name="plan"),
    path("plans/<int:plan_pk>/prepare/", views.prepare, name="prepare"),
    path("<int:pk>/", views.document_detail, name="document"),
    path("<int:pk>/sign/", views.sign, name="sign"),
    path("<int:pk>/pdf/", views.document_pdf, name="pdf"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
]
