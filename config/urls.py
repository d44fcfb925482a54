from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404
from django.urls import include, path
from django.views.decorators.cache import cache_control
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)


@cache_control(max_age=86400, public=True)
def favicon(request):
    """/favicon.ico for pages that do not link the icon themselves (browsers ask for it)."""
    found = finders.find("reviews/favicon.png")
    if not found:
        raise Http404("No favicon.")
    return FileResponse(open(found, "rb"), content_type="image/png")  # noqa: SIM115


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
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
    urlpatterns.insert(5, path("api/v1/_floor/", include("benchfloor.urls")))
