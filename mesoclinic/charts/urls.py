from django.urls import path

from mesoclinic.charts import pdf_views, photo_views, views

app_name = "charts"

urlpatterns = [
    path("start/<int:appointment_pk>/", views.start, name="start"),
    path("<int:pk>/", views.chart, name="chart"),
    path("<int:pk>/save/", views.save, name="save"),
    path("<int:pk>/sign/", views.sign, name="sign"),
    path("<int:pk>/amend/", views.amend, name="amend"),
    path("<int:pk>/pdf/", pdf_views.pdf, name="pdf"),
    path("courses/<int:plan_pk>/pdf/", pdf_views.course_pdf, name="course-pdf"),
    path("<int:pk>/photos/add/", photo_views.photo_add, name="photo-add"),
    path("photos/<int:pk>/", photo_views.photo_file, name="photo"),
    path("photos/<int:pk>/thumb/", photo_views.photo_thumb, name="photo-thumb"),
    path("photos/<int:pk>/remove/", photo_views.photo_remove, name="photo-remove"),
    path("patients/<int:patient_pk>/photos/", photo_views.compare, name="photos-compare"),
]
