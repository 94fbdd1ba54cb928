"""Knowledge pages (views_learn) and My results (views_results). The page codes are the
catalogue's stable codes, so a link to ``portal:learn-page`` stays valid across versions."""

from django.urls import URLPattern, path

from mesoclinic.portal import views_learn, views_results

urlpatterns: list[URLPattern] = [
    path("learn/", views_learn.learn, name="learn"),
    path("learn/<slug:code>/", views_learn.learn_page, name="learn-page"),
    path("results/", views_results.results, name="results"),
    path("results/photos/<int:photo_pk>/", views_results.photo, name="photo"),
    path("results/photos/<int:photo_pk>/thumb/", views_results.photo_thumb, name="photo-thumb"),
]
