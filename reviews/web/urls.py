"""Web routes: the reviewers' queue and case pages, and the auditors' pages."""

from reviews.web import audit_urls, queue_urls, simulation_urls

urlpatterns = [
    *queue_urls.urlpatterns,
    *audit_urls.urlpatterns,
    *simulation_urls.urlpatterns,
]
