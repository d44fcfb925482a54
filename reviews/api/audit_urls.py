"""The auditors' read-only API (mounted under /api/v1/)."""

from django.urls import path

from reviews.api.audit import (
    AuditDeterminationCsvApi,
    AuditDeterminationListApi,
    AuditMetricsApi,
    AuditMetricsCsvApi,
    AuditRequestHistoryApi,
)

urlpatterns = [
    path(
        "audit/requests/<int:request_id>/history/",
        AuditRequestHistoryApi.as_view(),
        name="api-audit-history",
    ),
    path(
        "audit/determinations/",
        AuditDeterminationListApi.as_view(),
        name="api-audit-determinations",
    ),
    path(
        "audit/determinations.csv",
        AuditDeterminationCsvApi.as_view(),
        name="api-audit-determinations-csv",
    ),
    path("audit/metrics/", AuditMetricsApi.as_view(), name="api-audit-metrics"),
    path("audit/metrics.csv", AuditMetricsCsvApi.as_view(), name="api-audit-metrics-csv"),
]
