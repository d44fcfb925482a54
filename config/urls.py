from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include("reviews.api.urls")),
    path("fhir/", include("pas.urls")),
    path("", include("reviews.web.urls")),
]

# A 404 under /api/ (or /fhir/) answers in that interface's error shape, not an HTML page.
handler404 = "reviews.api.errors.not_found"

if settings.BENCH_FLOOR:
    # A measuring instrument for ./lamina bench, not part of the provider contract.
    urlpatterns.insert(4, path("api/v1/_floor/", include("benchfloor.urls")))
