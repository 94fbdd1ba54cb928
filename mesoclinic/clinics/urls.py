from django.urls import URLPattern, path

from mesoclinic.clinics import views

app_name = "clinics"
urlpatterns: list[URLPattern] = [
    path("staff/", views.staff_list, name="staff"),
    path("staff/add/", views.staff_add, name="staff-add"),
    path("staff/<int:pk>/", views.staff_detail, name="staff-detail"),
    path("staff/<int:pk>/role/", views.staff_role, name="staff-role"),
    path("staff/<int:pk>/deactivate/", views.staff_deactivate, name="staff-deactivate"),
    path(
        "staff/<int:pk>/reset-two-factor/",
        views.staff_reset_two_factor,
        name="staff-reset-two-factor",
    ),
    path("settings/", views.clinic_settings, name="settings"),
    path("licences/", views.licence_list, name="licences"),
    path("licences/add/", views.licence_add, name="licence-add"),
    path("licences/<int:pk>/edit/", views.licence_edit, name="licence-edit"),
    path("licences/<int:pk>/verify/", views.licence_verify, name="licence-verify"),
    path("licences/<int:pk>/document/", views.licence_document, name="licence-document"),
]
