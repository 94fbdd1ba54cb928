"""Home and My course (views_course)."""

from django.urls import URLPattern, path

from mesoclinic.portal import views_course

urlpatterns: list[URLPattern] = [
    path("", views_course.home, name="home"),
    path("course/", views_course.course_page, name="course"),
    path("course/<int:plan_pk>/sessions.ics", views_course.course_ics, name="course-ics"),
    path(
        "appointments/<int:appointment_pk>/calendar.ics",
        views_course.appointment_ics,
        name="appointment-ics",
    ),
    path(
        "appointments/<int:appointment_pk>/move/",
        views_course.appointment_move,
        name="appointment-move",
    ),
    path(
        "appointments/<int:appointment_pk>/cancel/",
        views_course.appointment_cancel,
        name="appointment-cancel",
    ),
]
