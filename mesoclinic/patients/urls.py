from django.urls import path

from mesoclinic.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("<int:pk>/", views.patient_detail, name="detail"),
    path("<int:pk>/edit/", views.patient_edit, name="edit"),
    path("<int:pk>/medications/", views.medication_add, name="add-medication"),
    path("<int:pk>/allergies/", views.allergy_add, name="add-allergy"),
    path("<int:pk>/conditions/", views.condition_add, name="add-condition"),
    path("<int:pk>/audit/", views.patient_audit, name="audit"),
    path("<int:pk>/export/", views.patient_export, name="export"),
    path("<int:pk>/erase/", views.patient_erase, name="erase"),
]
