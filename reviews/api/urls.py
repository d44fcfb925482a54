"""Provider API routes, one module per area (each owns its views)."""

from reviews.api import appeal_urls, audit_urls, letter_urls, request_urls

urlpatterns = [
    *request_urls.urlpatterns,
    *letter_urls.urlpatterns,
    *appeal_urls.urlpatterns,
    *audit_urls.urlpatterns,
]
