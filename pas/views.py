"""The FHIR endpoints. Thin: read the body, call a service or selector, answer a FHIR resource.

Bodies and answers are FHIR JSON or FHIR XML (pas/renderers.py negotiates, pas/xml.py converts);
the services only ever see the JSON form. Every refusal is an OperationOutcome with a 4xx, in the
format asked for: malformed JSON or XML and non-conforming resources 400, a valid resource Lamina
cannot accept (wrong use, missing Patient, invalid codes) 422, wrong content type 415, too large
413, unauthenticated 401, not a provider 403, not found 404, a format Lamina does not write 406.
"""

import logging
import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from pas.authentication import CHALLENGE, FHIR_AUTHENTICATION
from pas.capability import capability_statement
from pas.fhir import FhirError, issue, operation_outcome
from pas.intake import claim_submit
from pas.mapping import inquiry_keys, resource_validate
from pas.questionnaires import (
    FAMILIES,
    family_for_canonical,
    family_for_questionnaire_id,
    questionnaire,
)
from pas.renderers import (
    FhirContentNegotiation,
    FhirJSONParser,
    FhirJSONRenderer,
    FhirXMLParser,
    FhirXMLRenderer,
    content_media_type,
)
from pas.responses import held_response_bundle, response_bundle
from pas.schema import (
    CLAIM_INQUIRE,
    CLAIM_SUBMIT,
    METADATA,
    QUESTIONNAIRE_READ,
    QUESTIONNAIRE_SEARCH,
    SUBSCRIPTION_CREATE,
    SUBSCRIPTION_DELETE,
    SUBSCRIPTION_READ,
    SUBSCRIPTION_STATUS,
    SUBSCRIPTION_UPDATE,
)
from pas.selectors import claim_inquire_matches, subscription_get_for
from pas.services import checks_wait
from pas.subscriptions import (
    subscription_create,
    subscription_off,
    subscription_resource,
    subscription_status_bundle,
    subscription_update,
)
from reviews.audit import audit_record
from reviews.errors import LaminaError
from reviews.http import IsProvider

logger = logging.getLogger(__name__)


def _base(request) -> str:
    return request.build_absolute_uri("/fhir/").rstrip("/")


def fhir_response(resource: dict, status: int = 200, headers: dict | None = None) -> Response:
    """A FHIR resource answered in the format the request negotiated (JSON or XML)."""
    return Response(resource, status=status, headers=headers)


class FhirView(APIView):
    """Token authentication; FHIR JSON or XML in and out; every error an OperationOutcome."""

    authentication_classes = FHIR_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    renderer_classes = [FhirJSONRenderer, FhirXMLRenderer]
    parser_classes = [FhirJSONParser, FhirXMLParser]
    content_negotiation_class = FhirContentNegotiation

    def handle_exception(self, exc):
        headers = {}
        if isinstance(exc, FhirError):
            return fhir_response(operation_outcome(exc.issues), exc.status, exc.headers)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            status, code, headers = 401, "login", {"WWW-Authenticate": CHALLENGE}
        elif isinstance(exc, exceptions.PermissionDenied):
            status, code = 403, "forbidden"
        elif isinstance(exc, exceptions.NotAcceptable):
            status, code = 406, "not-supported"
        elif isinstance(exc, exceptions.MethodNotAllowed):
            status, code = 405, "not-supported"
        elif isinstance(exc, exceptions.Throttled):
            status, code = 429, "throttled"
            # The provider API's rate limit answers when to try again, over FHIR as over REST.
            if exc.wait is not None:
                headers = {"Retry-After": str(math.ceil(exc.wait))}
        elif isinstance(exc, Http404):
            status, code = 404, "not-found"
        elif isinstance(exc, LaminaError):
            status, code = exc.status, "processing"
            return fhir_response(operation_outcome([issue(exc.message, code=code)]), status)
        elif isinstance(exc, RequestDataTooBig):
            status, code = 413, "too-costly"
            exc = exceptions.APIException("The request body is larger than Lamina accepts.")
        elif isinstance(exc, exceptions.APIException):
            status, code = exc.status_code, "processing"
        else:
            logger.exception("FHIR endpoint failed")
            status, code = 500, "exception"
            exc = exceptions.APIException("Lamina could not process the request.")
        detail = getattr(exc, "detail", None) or str(exc) or "Not found."
        return fhir_response(operation_outcome([issue(str(detail), code=code)]), status, headers)

    def body(self, request, expected: str | tuple[str, ...]) -> dict:
        """The request body as a validated FHIR resource of the expected type (as a dict), read
        from FHIR JSON or FHIR XML by the view's parsers."""
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_media_type(content_type) is None:
            raise FhirError(
                415,
                [
                    issue(
                        "Send application/fhir+json or application/fhir+xml (application/json, "
                        f"application/xml and text/xml are taken too), not {content_type or 'no content type'}.",
                        code="not-supported",
                    )
                ],
            )
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > settings.MAX_BODY_BYTES:
            raise FhirError(
                413, [issue("The request body is larger than Lamina accepts.", code="too-costly")]
            )
        try:
            raw = request.body
        except RequestDataTooBig as exc:
            raise FhirError(
                413, [issue("The request body is larger than Lamina accepts.", code="too-costly")]
            ) from exc
        if len(raw) > settings.MAX_BODY_BYTES:
            raise FhirError(
                413, [issue("The request body is larger than Lamina accepts.", code="too-costly")]
            )
        if not raw:
            # DRF hands an empty body to no parser.
            raise FhirError(
                400, [issue("The request body is empty: send a FHIR resource.", code="structure")]
            )
        data = request.data
        if (
            isinstance(data, dict)
            and data.get("resourceType") == "Parameters"
            and "Parameters" not in ((expected,) if isinstance(expected, str) else expected)
        ):
            data = _operation_resource(data)
        resource_validate(data, expected)
        return data


def _operation_resource(parameters: dict):
    """An operation called with Parameters: its `resource` parameter is the resource."""
    for parameter in parameters.get("parameter") or []:
        if isinstance(parameter, dict) and parameter.get("name") == "resource":
            return parameter.get("resource")
    raise FhirError(
        400,
        [
            issue(
                "The Parameters carry no 'resource' parameter.",
                expression="Parameters.parameter",
                code="required",
            )
        ],
    )


class MetadataApi(FhirView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(**METADATA)
    def get(self, request):
        return fhir_response(capability_statement(_base(request)))


class QuestionnaireListApi(FhirView):
    """The Questionnaires carry no patient data: anyone may read them (as DTR clients do)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(**QUESTIONNAIRE_SEARCH)
    def get(self, request):
        base = _base(request)
        families = list(FAMILIES)
        unknown = set(request.query_params) - {"url", "_id", "_format"}
        if unknown:
            raise FhirError(
                400,
                [
                    issue(
                        f"Questionnaire search takes url and _id, not {', '.join(sorted(unknown))}.",
                        code="not-supported",
                    )
                ],
            )
        urls = [u for value in request.query_params.getlist("url") for u in value.split(",")]
        if urls:
            wanted = {family_for_canonical(u, base) for u in urls}
            families = [f for f in families if f in wanted]
        ids = [i for value in request.query_params.getlist("_id") for i in value.split(",")]
        if ids:
            wanted = {family_for_questionnaire_id(i) for i in ids}
            families = [f for f in families if f in wanted]
        entries = [questionnaire(f, base) for f in families]
        return fhir_response(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(entries),
                "entry": [
                    {
                        "fullUrl": f"{base}/Questionnaire/{q['id']}",
                        "resource": q,
                        "search": {"mode": "match"},
                    }
                    for q in entries
                ],
            }
        )


class QuestionnaireDetailApi(FhirView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(**QUESTIONNAIRE_READ)
    def get(self, request, questionnaire_id: str):
        family = family_for_questionnaire_id(questionnaire_id)
        if family is None:
            raise FhirError(
                404,
                [issue(f"No Questionnaire {questionnaire_id!r}.", code="not-found")],
            )
        return fhir_response(questionnaire(family, _base(request)))


class ClaimSubmitApi(FhirView):
    # The role before the body: a reviewer's or an auditor's POST is refused, not validated.
    permission_classes = [IsProvider]

    @extend_schema(**CLAIM_SUBMIT)
    def post(self, request):
        bundle = self.body(request, "Bundle")
        submitted = claim_submit(actor=request.user, bundle=bundle, base=_base(request))
        if submitted.request is None:
            return fhir_response(
                held_response_bundle(
                    submitted.held, base=_base(request), cancelled=submitted.note == "cancelled"
                )
            )
        # Answer within the guide's 15 seconds: the decision if the checks finish, else pended.
        pa_request = checks_wait(submitted.request, seconds=settings.FHIR_SUBMIT_WAIT_SECONDS)
        return fhir_response(response_bundle(pa_request, base=_base(request), note=submitted.note))


class ClaimInquireApi(FhirView):
    permission_classes = [IsProvider]

    @extend_schema(**CLAIM_INQUIRE)
    def post(self, request):
        bundle = self.body(request, "Bundle")
        keys = inquiry_keys(bundle)
        matches = claim_inquire_matches(user=request.user, keys=keys)
        for pa_request in matches:
            audit_record(
                action="request_viewed",
                subject=pa_request,
                actor=request.user,
                data={"via": "fhir", "operation": "inquire"},
            )
        # PAS 2.2.1: a Parameters with 0..* `return` Bundles (inquiry response Bundles).
        parameters: dict = {"resourceType": "Parameters"}
        if matches:
            parameters["parameter"] = [
                {
                    "name": "return",
                    "resource": response_bundle(pa_request, base=_base(request), inquiry=True),
                }
                for pa_request in matches
            ]
        return fhir_response(parameters)


class SubscriptionCreateApi(FhirView):
    permission_classes = [IsProvider]

    @extend_schema(**SUBSCRIPTION_CREATE)
    def post(self, request):
        resource = self.body(request, "Subscription")
        subscription = subscription_create(
            actor=request.user, resource=resource, base=_base(request)
        )
        return fhir_response(
            subscription_resource(subscription),
            201,
            {"Location": f"{_base(request)}/Subscription/{subscription.pk}"},
        )


def _subscription(request, subscription_id):
    subscription = subscription_get_for(user=request.user, subscription_id=subscription_id)
    if subscription is None:
        raise FhirError(404, [issue("No such Subscription.", code="not-found")])
    return subscription


class SubscriptionDetailApi(FhirView):
    def _get(self, request, subscription_id):
        return _subscription(request, subscription_id)

    @extend_schema(**SUBSCRIPTION_UPDATE)
    def put(self, request, subscription_id: str):
        subscription = self._get(request, subscription_id)
        resource = self.body(request, "Subscription")
        updated = subscription_update(
            actor=request.user, subscription=subscription, resource=resource, base=_base(request)
        )
        return fhir_response(subscription_resource(updated))

    @extend_schema(**SUBSCRIPTION_READ)
    def get(self, request, subscription_id: str):
        return fhir_response(subscription_resource(self._get(request, subscription_id)))

    @extend_schema(**SUBSCRIPTION_DELETE)
    def delete(self, request, subscription_id: str):
        subscription = subscription_off(
            actor=request.user, subscription=self._get(request, subscription_id)
        )
        return fhir_response(subscription_resource(subscription))


class SubscriptionStatusApi(FhirView):
    """Subscription/{id}/$status: the backport's status of one subscription."""

    @extend_schema(**SUBSCRIPTION_STATUS)
    def get(self, request, subscription_id: str):
        subscription = _subscription(request, subscription_id)
        return fhir_response(subscription_status_bundle(subscription, base=_base(request)))


@extend_schema(exclude=True)
class NotFoundApi(FhirView):
    """Any /fhir/ address no route serves: a 404 OperationOutcome in the format asked for (the
    project's 404 handler knows no Accept header or `_format`)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def _not_found(self, request, *args, **kwargs):
        raise FhirError(404, [issue("Not found.", code="not-found")])

    get = post = put = patch = delete = head = options = _not_found
