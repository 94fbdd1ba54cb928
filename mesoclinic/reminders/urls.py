from django.urls import path

from mesoclinic.reminders import views

app_name = "reminders"
urlpatterns = [
    path("", views.reminder_list, name="list"),
    path("<int:pk>/retry/", views.reminder_retry, name="retry"),
]
