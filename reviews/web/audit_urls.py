"""The auditors' pages (mounted at /)."""

from django.urls import path

from reviews.web import audit_views

urlpatterns = [
    path("audit/", audit_views.audit_search, name="audit_search"),
    path("audit/requests/<int:request_id>/", audit_views.audit_history, name="audit_history"),
    path("audit/metrics/", audit_views.audit_metrics, name="audit_metrics"),
    path("audit/verify/", audit_views.audit_verify, name="audit_verify"),
]
