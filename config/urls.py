from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Both schema browsers run under the site's Content-Security-Policy: Swagger UI's start-up
    # script is served as a file of its own (the split view), ReDoc's page has no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"),
        name="redoc",
    ),
    path("api/v1/", include("reviews.api.urls")),
    path("fhir/", include("pas.urls")),
    path("", include("reviews.web.urls")),
]

# A 404 under /api/ (or /fhir/) answers in that interface's error shape, not an HTML page.
handler404 = "reviews.api.errors.not_found"

if settings.BENCH_FLOOR:
    # A measuring instrument for ./lamina bench, not part of the provider contract.
    urlpatterns.insert(4, path("api/v1/_floor/", include("benchfloor.urls")))
