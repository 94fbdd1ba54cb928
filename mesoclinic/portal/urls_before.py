from django.urls import URLPattern, path

from mesoclinic.portal import views_before as views

urlpatterns: list[URLPattern] = [
    path("appointments/<int:appointment_pk>/check-in/", views.check_in, name="check-in"),
    path("consent/", views.consents, name="consents"),
    path("consent/<int:document_pk>/", views.consent_document, name="consent"),
    path("consent/<int:document_pk>/code/", views.consent_code, name="consent-code"),
    path("consent/<int:document_pk>/pdf/", views.consent_pdf, name="consent-pdf"),
    path("consent/<int:document_pk>/withdraw/", views.consent_withdraw, name="consent-withdraw"),
]
