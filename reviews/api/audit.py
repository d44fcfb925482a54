"""The auditors' read-only API: a request's history, determination search and export, metrics.

Every view is GET only (any other method is a 405) and for auditors and plan administrators
(anyone else a 403; a request outside the reader's scope a 404 first). Reading a request's
history and exporting determinations are themselves audit events.
"""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews.api.audit_serializers import (
    AuditDeterminationPageOutput,
    AuditHistoryOutput,
    MetricsOutput,
)
from reviews.api.schema import (
    AUDIT_ERRORS,
    CSV,
    CSV_ERRORS,
    DETERMINATION_FILTERS,
    DETERMINATIONS_CSV,
    JSON,
    METRICS_CSV,
    PAGE_PARAMETERS,
    PERIOD_PARAMETERS,
    error,
)
from reviews.audit import audit_record
from reviews.audit_params import DeterminationSearchForm, PeriodForm, valid_or_400
from reviews.selectors.audit import (
    EXPORT_HEADER,
    audit_request_get_for,
    auditor_require,
    determination_export_rows,
    determination_search,
    request_history,
)
from reviews.selectors.metrics import CSV_HEADER, metrics_for_period


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def csv_response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


TAG = "audit"


class _AuditApi(APIView):
    # The history view checks the request's scope first (a 404 outside it), then the role.
    scoped_by_request = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not self.scoped_by_request:
            auditor_require(request.user)


class _CsvApi(_AuditApi):
    def perform_content_negotiation(self, request, force=False):
        # The body is CSV whatever the Accept header says; only errors are rendered (as JSON).
        return super().perform_content_negotiation(request, force=True)


class AuditRequestHistoryApi(_AuditApi):
    scoped_by_request = True

    @extend_schema(
        operation_id="audit_request_history",
        tags=[TAG],
        summary="Read everything on record about a request",
        description="The request, its audit events with their hashes, each evaluation, request "
        "for information, note, determination and appeal. The read is itself an audit event.",
        responses={
            200: AuditHistoryOutput,
            404: error("No such request."),
            **AUDIT_ERRORS,
        },
    )
    def get(self, request, request_id):
        pa_request = audit_request_get_for(user=request.user, request_id=request_id)
        audit_record(
            action="history_viewed", subject=pa_request, actor=request.user, data={"via": "api"}
        )
        return Response(AuditHistoryOutput(request_history(pa_request=pa_request)).data)


class DeterminationPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class AuditDeterminationListApi(_AuditApi):
    @extend_schema(
        operation_id="audit_determinations_list",
        tags=[TAG],
        summary="Search determinations",
        description="Every determination matching the filters, newest first, 50 a page.",
        parameters=[*DETERMINATION_FILTERS, *PAGE_PARAMETERS],
        responses={
            200: AuditDeterminationPageOutput,
            400: error("A filter value is invalid (listed per parameter)."),
            404: error("The page does not exist."),
            **AUDIT_ERRORS,
        },
    )
    def get(self, request):
        form = valid_or_400(DeterminationSearchForm(request.query_params))
        queryset = determination_search(filters=form.filters())
        paginator = DeterminationPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return Response(
            AuditDeterminationPageOutput(
                {
                    "count": paginator.page.paginator.count,
                    "next": paginator.get_next_link(),
                    "previous": paginator.get_previous_link(),
                    "results": page,
                }
            ).data
        )


class AuditDeterminationCsvApi(_CsvApi):
    @extend_schema(
        operation_id="audit_determinations_csv",
        tags=[TAG],
        summary="Export determinations as CSV",
        description="The determinations matching the filters as CSV, whatever the Accept header "
        "says; errors are JSON. The export and its filters are recorded as an audit event.",
        parameters=DETERMINATION_FILTERS,
        responses={
            (200, CSV): DETERMINATIONS_CSV,
            (400, JSON): error("A filter value is invalid (listed per parameter)."),
            **CSV_ERRORS,
        },
    )
    def get(self, request):
        form = valid_or_400(DeterminationSearchForm(request.query_params))
        filters = form.filters()
        # Who exported what: the filters, not the rows.
        audit_record(
            action="determinations_exported",
            actor=request.user,
            subject_type="determination",
            data={k: v for k, v in form.cleaned_data.items() if v not in (None, "")},
        )
        rows = determination_export_rows(determination_search(filters=filters))
        stamp = timezone.localdate().isoformat()
        return csv_response(csv_stream(EXPORT_HEADER, rows), f"lamina-determinations-{stamp}.csv")


class AuditMetricsApi(_AuditApi):
    @extend_schema(
        operation_id="audit_metrics",
        tags=[TAG],
        summary="CMS-0057-F prior-authorization metrics for a period",
        description="Over the requests whose initial determination was made in the period: the "
        "shares approved, partially approved, denied, approved after appeal and after an "
        "extension, and the average and median hours to decision, per urgency, overall and per "
        "procedure family.",
        parameters=PERIOD_PARAMETERS,
        responses={
            200: MetricsOutput,
            400: error("start or end is missing or invalid, or end is before start."),
            **AUDIT_ERRORS,
        },
    )
    def get(self, request):
        start, end = valid_or_400(PeriodForm(request.query_params)).period()
        return Response(MetricsOutput(metrics_for_period(start=start, end=end).as_dict()).data)


class AuditMetricsCsvApi(_CsvApi):
    @extend_schema(
        operation_id="audit_metrics_csv",
        tags=[TAG],
        summary="CMS-0057-F metrics for a period as CSV",
        description="The rows of the metrics report as CSV, whatever the Accept header says; "
        "errors are JSON.",
        parameters=PERIOD_PARAMETERS,
        responses={
            (200, CSV): METRICS_CSV,
            (400, JSON): error("start or end is missing or invalid, or end is before start."),
            **CSV_ERRORS,
        },
    )
    def get(self, request):
        start, end = valid_or_400(PeriodForm(request.query_params)).period()
        report = metrics_for_period(start=start, end=end)
        return csv_response(
            csv_stream(CSV_HEADER, (row.as_csv_row() for row in report.rows)),
            f"lamina-metrics-{start.isoformat()}-{end.isoformat()}.csv",
        )
