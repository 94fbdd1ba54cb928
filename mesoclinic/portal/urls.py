"""The portal, under /portal/: one URL module per part, each owned by its views module."""

from mesoclinic.portal import urls_access, urls_after, urls_before, urls_course, urls_learn

app_name = "portal"

urlpatterns = [
    *urls_access.urlpatterns,
    *urls_course.urlpatterns,
    *urls_before.urlpatterns,
    *urls_after.urlpatterns,
    *urls_learn.urlpatterns,
]
