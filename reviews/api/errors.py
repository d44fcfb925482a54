"""One error shape for the API: {"code", "message", "fields"}."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from reviews.errors import LaminaError
from reviews.http import field_path


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the 1 MiB Lamina accepts."
    default_code = "payload_too_large"


def exception_handler(exc, context):
    # Imported here, not at module level: rest_framework.views reads the parser setting at import
    # time, and the parser imports PayloadTooLarge from this module (a cycle on first import).
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"clinical.imaging[0].date": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            for k, v in _flatten(value, field_path(prefix, key)).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(i) for i in detail)
        else:
            for index, item in enumerate(detail):
                for k, v in _flatten(item, field_path(prefix, index)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return {k: v for k, v in out.items() if v}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def lamina_exception_handler(exc, context):
    if isinstance(exc, LaminaError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE before the parser sees it.
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = error_body("invalid", "The request has invalid fields.", fields)
        return response
    detail = getattr(exc, "detail", str(exc))
    code = getattr(exc, "default_code", "error")
    if isinstance(detail, exceptions.ErrorDetail):
        code = detail.code or code
    response.data = error_body(str(code), str(detail))
    return response


def not_found(request, exception=None):
    """handler404: under /api/ a 404 is the API's JSON error (a path no route matches, such as a
    non-numeric id); under /fhir/ an OperationOutcome; elsewhere Django's page."""
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    if request.path.startswith("/fhir/"):
        from pas.fhir import fhir_response, issue, operation_outcome

        return fhir_response(operation_outcome([issue("Not found.", code="not-found")]), 404)
    return page_not_found(request, exception)
