"""FHIR's XML format, read and written through fhir.resources (R4B models, which read R4 PAS).

An XML body becomes the FHIR JSON fhir.resources writes for it, and that JSON goes through the
same checks as a JSON body, so both formats reach the services as the same dict. Answers are
validated into their model and written with its XML serializer.

XML is parsed defensively: FHIR XML is UTF-8 and never carries a DTD, so a document type
declaration (where entity bombs and external entities live) is refused before lxml sees the body,
and lxml itself runs without DTD loading, entity resolution or network access.
"""

import copy
import re
from typing import Any

from lxml import etree
from pydantic import ValidationError

from pas.fhir import FhirError, issue
from pas.mapping import MAX_FHIR_DEPTH, json_load

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
# `<!DOCTYPE` opens the only place XML declares entities; FHIR XML has no use for it.
_DECLARATION = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# What XML 1.0 cannot carry in text or attributes.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# An XML element per JSON object level plus one for the primitive: one deeper than the JSON limit.
MAX_XML_DEPTH = MAX_FHIR_DEPTH + 1
MAX_XML_ELEMENTS = 10_000


def _refused(diagnostics: str, code: str = "structure") -> FhirError:
    return FhirError(400, [issue(diagnostics, code=code)])


def xml_parser() -> etree.XMLParser:
    # One per document: lxml parsers keep state between parses.
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _too_costly(root: etree._Element) -> str | None:
    """Why the tree is too costly to read, or None. fhir.resources' XML reader is pure Python and
    slows with every element (and with the square of repeated siblings): the element count keeps
    a body within a few seconds, well above what PAS bundles hold (the guide's: under 700)."""
    stack = [(root, 1)]
    count = 0
    while stack:
        element, level = stack.pop()
        count += 1
        if level > MAX_XML_DEPTH:
            return f"XML nested deeper than {MAX_XML_DEPTH} levels."
        if count > MAX_XML_ELEMENTS:
            return f"XML with more than {MAX_XML_ELEMENTS} elements."
        stack.extend((child, level + 1) for child in element)
    return None


def _foreign_element(root: etree._Element) -> str | None:
    """The first element that is neither FHIR nor narrative XHTML, each in the default namespace
    (fhir.resources' reader tells them apart by the default namespace, not the element's own)."""
    for element in root.iter(etree.Element):
        namespace = etree.QName(element).namespace
        parent = element.getparent()
        if namespace == XHTML_NS and (
            parent is None
            or etree.QName(parent).namespace == XHTML_NS
            or element.nsmap.get(None) == XHTML_NS
        ):
            continue
        if namespace != FHIR_NS or element.nsmap.get(None) != FHIR_NS:
            return element.tag
    return None


def _model_class(name: str):
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(name)
    except (KeyError, ValueError) as exc:
        raise FhirError(
            400,
            [
                issue(
                    f"Unknown resource type {name!r}.",
                    expression="resourceType",
                    code="structure",
                )
            ],
        ) from exc


def _validation_issues(exc: ValidationError) -> list[dict]:
    """Pydantic errors from fhir.resources' XML reader: each names the element within the type
    that holds it (the reader builds the resource inside out, so the full path is not known)."""
    issues = []
    for err in exc.errors()[:50]:
        where = ".".join(str(part) for part in err.get("loc") or ())
        element = f"{exc.title}.{where}" if where else exc.title
        issues.append(issue(f"{element}: {err.get('msg', 'Invalid')}.", code="structure"))
    return issues


def xml_load(raw: bytes) -> Any:
    """An XML body as the FHIR JSON dict of the resource it holds; every problem is a 400."""
    if not raw:
        raise _refused("The request body is empty: send a FHIR resource.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refused(f"FHIR XML is UTF-8: {exc}") from exc
    if _DECLARATION.search(text):
        raise _refused(
            "FHIR XML may not carry a document type declaration or entity declarations.",
            code="security",
        )
    try:
        root = etree.fromstring(raw, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise _refused(f"Malformed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _refused("FHIR XML may not carry a document type declaration.", code="security")
    costly = _too_costly(root)
    if costly:
        raise _refused(costly, code="too-costly")
    foreign = _foreign_element(root)
    if foreign is not None:
        raise _refused(
            f"Element {foreign} is not in the FHIR namespace ({FHIR_NS}, as the default "
            "namespace) nor narrative XHTML."
        )
    model_class = _model_class(etree.QName(root).localname)
    try:
        resource = model_class.model_validate_xml(raw, xmlparser=xml_parser())
    except ValidationError as exc:
        raise FhirError(400, _validation_issues(exc)) from exc
    except KeyError as exc:
        name = exc.args[0] if exc.args else ""
        raise _refused(f"Unknown element {name!r} for FHIR R4.") from exc
    except (ValueError, TypeError, AttributeError, RecursionError, etree.LxmlError) as exc:
        raise _refused(f"Not a FHIR resource in XML: {exc}") from exc
    return json_load(resource.model_dump_json().encode("utf-8"))


def _xml_text(value: Any) -> Any:
    """The value with every string XML can carry: characters XML 1.0 forbids (control characters,
    which JSON bodies, query parameters and echoed input may hold) become U+FFFD."""
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                node[key] = _NOT_XML.sub("\ufffd", item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value


def xml_dump(resource: dict) -> bytes:
    """A FHIR resource (as a dict) in FHIR XML, UTF-8 with an XML declaration."""
    clean = _xml_text(copy.deepcopy(resource))
    model = _model_class(str(clean.get("resourceType"))).model_validate(clean)
    return model.model_dump_xml()
