from django.urls import path

from mesoclinic.courses import views

app_name = "courses"
urlpatterns = [
    # Each part under its own prefix, so that the menu marks one entry for a page.
    path("plans/", views.plan_list, name="list"),
    path("plans/new/<int:patient_pk>/", views.plan_create, name="create"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("plans/<int:pk>/book/", views.plan_book, name="plan-book"),
    path("plans/<int:pk>/concurrent/", views.plan_concurrent, name="plan-concurrent"),
    path("plans/<int:pk>/complete/", views.plan_complete, name="plan-complete"),
    path("plans/<int:pk>/stop/", views.plan_stop, name="plan-stop"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment"),
    path("appointments/<int:pk>/move/", views.appointment_move, name="appointment-move"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment-cancel"),
    path(
        "appointments/<int:pk>/attendance/",
        views.appointment_attendance,
        name="appointment-attendance",
    ),
    path("schedule/", views.schedule_view, name="schedule"),
    path("maintenance/", views.maintenance_list, name="maintenance"),
    path("maintenance/<int:pk>/book/", views.recall_book, name="recall-book"),
    path("setup/", views.setup, name="setup"),
    path("setup/rooms/", views.room_add, name="room-add"),
    path("setup/rooms/<int:pk>/active/", views.room_active, name="room-active"),
    path("setup/hours/", views.hours_add, name="hours-add"),
    path("setup/hours/<int:pk>/remove/", views.hours_remove, name="hours-remove"),
    path("setup/leave/", views.leave_add, name="leave-add"),
    path("setup/leave/<int:pk>/remove/", views.leave_remove, name="leave-remove"),
]
