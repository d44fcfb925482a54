"""FHIR's two formats on /fhir/: the DRF parsers, renderers and content negotiation.

FHIR names its formats by media type (application/fhir+json, application/fhir+xml) and accepts
the generic ones as aliases (application/json; application/xml and text/xml). `_format` (FHIR's
parameter, and DRF's `format`) overrides the Accept header. Answers always carry the FHIR media
type, whichever alias was asked for.
"""

import logging

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer

from pas.fhir import FHIR_JSON, FHIR_XML, issue, operation_outcome
from pas.mapping import json_load
from pas.xml import xml_dump, xml_load

logger = logging.getLogger(__name__)

# What a Content-Type, an Accept entry or `_format` may say, and the FHIR media type it means.
MEDIA_ALIASES = {
    FHIR_JSON: FHIR_JSON,
    "application/json": FHIR_JSON,
    "fhir+json": FHIR_JSON,
    "json": FHIR_JSON,
    FHIR_XML: FHIR_XML,
    "application/xml": FHIR_XML,
    "text/xml": FHIR_XML,
    "fhir+xml": FHIR_XML,
    "xml": FHIR_XML,
}
# Wildcards in Accept: JSON, the format Lamina answers in when the client does not mind.
WILDCARDS = {"*/*": FHIR_JSON, "application/*": FHIR_JSON, "text/*": FHIR_XML}


def content_media_type(content_type: str | None) -> str | None:
    """The FHIR media type a Content-Type names (its parameters ignored), or None."""
    base = (content_type or "").split(";")[0].strip().lower()
    return MEDIA_ALIASES.get(base) if "/" in base else None


def format_media_type(value: str) -> str | None:
    """The FHIR media type a `_format` value names, or None.

    In a query string `+` decodes to a space, so `_format=application/fhir+xml` arrives as
    `application/fhir xml`.
    """
    return MEDIA_ALIASES.get(value.split(";")[0].strip().lower().replace(" ", "+"))


def _accepted(header: str) -> list[str]:
    """The Accept header's media types, most wanted first: by q, exact types before wildcards,
    then in the order sent; q=0 means not acceptable."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, "*" in media, position, media.lower()))
    return [media for *_, media in sorted(ranked)]


class FhirContentNegotiation(DefaultContentNegotiation):
    def select_parser(self, request, parsers):
        wanted = content_media_type(request.content_type)
        return next((p for p in parsers if p.media_type == wanted), None)

    def select_renderer(self, request, renderers, format_suffix=None):
        by_type = {r.media_type: r for r in renderers}
        if request.method == "OPTIONS":
            # DRF's own answer (the view's description) is not a FHIR resource: JSON only.
            return by_type[FHIR_JSON], FHIR_JSON
        asked = request.query_params.get("_format") or request.query_params.get("format")
        if asked:
            wanted = format_media_type(asked)
        else:
            header = request.META.get("HTTP_ACCEPT") or "*/*"
            offered = (MEDIA_ALIASES.get(m) or WILDCARDS.get(m) for m in _accepted(header))
            wanted = next((m for m in offered if m in by_type), None)
        if wanted in by_type:
            return by_type[wanted], wanted
        # APIView answers the refusal itself in its first renderer (JSON).
        raise exceptions.NotAcceptable(
            "Lamina answers in application/fhir+json or application/fhir+xml (_format json or xml)."
        )


class FhirJSONParser(BaseParser):
    media_type = FHIR_JSON

    def parse(self, stream, media_type=None, parser_context=None):
        return json_load(stream.read())


class FhirXMLParser(BaseParser):
    media_type = FHIR_XML

    def parse(self, stream, media_type=None, parser_context=None):
        return xml_load(stream.read())


class FhirJSONRenderer(JSONRenderer):
    # A JSON renderer, not a bare BaseRenderer: DRF renders OPTIONS and other framework answers
    # through it, and a BaseRenderer without render() turns those into 500s.
    media_type = FHIR_JSON
    format = "fhir+json"
    charset = "utf-8"


class FhirXMLRenderer(BaseRenderer):
    media_type = FHIR_XML
    format = "fhir+xml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        try:
            return xml_dump(data)
        except Exception:
            # An answer fhir.resources cannot write as XML is Lamina's fault, never the client's:
            # logged, and answered as a server error in the format asked for.
            logger.exception("FHIR answer could not be written as XML")
            response = (renderer_context or {}).get("response")
            if response is not None:
                response.status_code = 500
            return xml_dump(
                operation_outcome(
                    [issue("Lamina could not write its answer as FHIR XML.", code="exception")]
                )
            )
