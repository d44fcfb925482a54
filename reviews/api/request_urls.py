"""Provider API routes for requests, mounted under /api/v1/."""

from django.urls import path

from reviews.api import rechecks, views

urlpatterns = [
    path("requests/", views.RequestCollectionApi.as_view(), name="api-requests"),
    path("requests/<int:request_id>/", views.RequestDetailApi.as_view(), name="api-request-detail"),
    path(
        "requests/<int:request_id>/information/",
        views.RequestInformationApi.as_view(),
        name="api-request-information",
    ),
    path(
        "requests/<int:request_id>/withdraw/",
        views.RequestWithdrawApi.as_view(),
        name="api-request-withdraw",
    ),
    path(
        "requests/<int:request_id>/recheck/",
        rechecks.RequestRecheckApi.as_view(),
        name="api-request-recheck",
    ),
]
