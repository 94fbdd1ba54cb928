from django.urls import path

from mesoclinic.formulas import views

app_name = "formulas"
urlpatterns = [
    path("", views.formula_list, name="list"),
    path("new/", views.formula_create, name="create"),
    path("preview/", views.formula_preview, name="preview"),
    path("<int:pk>/", views.formula_detail, name="detail"),
    path("<int:pk>/edit/", views.formula_edit, name="edit"),
    path("versions/<int:version_pk>/", views.formula_version, name="version"),
    path("ingredients/", views.ingredient_list, name="ingredients"),
    path("products/", views.product_list, name="products"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("products/<int:product_pk>/lots/", views.lot_receive, name="lot-receive"),
    path("lots/", views.lot_list, name="lots"),
    path("lots/<int:pk>/", views.lot_detail, name="lot"),
    path("lots/<int:pk>/status/", views.lot_status, name="lot-status"),
    path("lots/<int:pk>/patients.csv", views.lot_trace_csv, name="lot-trace-csv"),
    path("contacts/<int:pk>/", views.contact_update, name="contact"),
    path("patients/<int:patient_pk>/lots/", views.patient_lots, name="patient-lots"),
]
