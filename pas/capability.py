"""GET /fhir/metadata: what Lamina's FHIR endpoint supports."""

from django.utils import timezone

from pas.fhir import BACKPORT, FHIR_JSON, FHIR_XML, LAMINA, PAS, PAS_TOPIC
from pas.questionnaires import FAMILIES, questionnaire_canonical


def capability_statement(base: str) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "id": "lamina",
        "url": f"{LAMINA}:capability-statement",
        "version": "1",
        "name": "LaminaPriorAuthorization",
        "title": "Lamina prior authorization (Da Vinci PAS)",
        "status": "active",
        "date": timezone.localdate().isoformat(),
        "publisher": "Lamina",
        "description": (
            "Prior authorization for spine procedures. Claim/$submit takes a PAS request Bundle "
            "and answers with a PAS response Bundle (review action per item); Claim/$inquire "
            "returns the current response; decisions on pended requests are pushed to R4 backport "
            "rest-hook Subscriptions. Clinical facts travel in a QuestionnaireResponse answering "
            "Lamina's Questionnaire for the procedure family."
        ),
        "kind": "instance",
        "software": {"name": "Lamina"},
        "implementation": {"description": "Lamina FHIR endpoint", "url": base.rstrip("/")},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json", FHIR_XML, "xml"],
        "implementationGuide": [
            f"{PAS}/ImplementationGuide/hl7.fhir.us.davinci-pas",
            f"{BACKPORT}/ImplementationGuide/hl7.fhir.uv.subscriptions-backport",
        ],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                            "oauth-uris",
                            "extension": [
                                {"url": "token", "valueUri": f"{base.rstrip('/')}/auth/token"}
                            ],
                        }
                    ],
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "OAuth",
                                },
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                },
                            ],
                            "text": "SMART Backend Services (private_key_jwt) or a Bearer token",
                        }
                    ],
                    "description": (
                        "SMART Backend Services: a registered client POSTs a client_credentials "
                        "request with a client assertion signed RS384 or ES384 to the token "
                        "endpoint (see .well-known/smart-configuration) and sends the access token "
                        "as `Authorization: Bearer <token>`; it acts as the client's provider user "
                        "within its system/ scopes. A provider user's API token is taken too, as "
                        "`Authorization: Bearer <token>` or `Authorization: Token <token>`. "
                        "Requests and subscriptions are scoped to the user's organization. "
                        "Questionnaires and this statement are public."
                    ),
                },
                "resource": [
                    {
                        "type": "Claim",
                        "supportedProfile": [f"{PAS}/StructureDefinition/profile-claim"],
                        "operation": [
                            {
                                "name": "submit",
                                "definition": f"{PAS}/OperationDefinition/Claim-submit",
                            },
                            {
                                "name": "inquire",
                                "definition": f"{PAS}/OperationDefinition/Claim-inquiry",
                            },
                        ],
                    },
                    {
                        "type": "ClaimResponse",
                        "supportedProfile": [f"{PAS}/StructureDefinition/profile-claimresponse"],
                        "documentation": "Returned inside the $submit and $inquire response Bundles.",
                    },
                    {
                        "type": "Questionnaire",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": "url", "type": "uri"},
                            {"name": "_id", "type": "token"},
                        ],
                        "documentation": "One per procedure family: "
                        + ", ".join(questionnaire_canonical(f, base) for f in FAMILIES),
                    },
                    {
                        "type": "QuestionnaireResponse",
                        "documentation": "Read from Claim.supportingInfo (contained or in the Bundle).",
                    },
                    {
                        "type": "Subscription",
                        "supportedProfile": [f"{PAS}/StructureDefinition/profile-subscription"],
                        "interaction": [
                            {"code": "create"},
                            {"code": "read"},
                            {"code": "update"},
                            {"code": "delete"},
                        ],
                        "operation": [
                            {
                                "name": "status",
                                "definition": f"{BACKPORT}/OperationDefinition/backport-subscription-status",
                            }
                        ],
                        "extension": [
                            {
                                "url": f"{BACKPORT}/StructureDefinition/"
                                "capabilitystatement-subscriptiontopic-canonical",
                                "valueCanonical": PAS_TOPIC,
                            }
                        ],
                        "documentation": "rest-hook, application/fhir+json, full-resource payload; "
                        "a handshake on creation and update; filter org-identifier=<your NPI>.",
                    },
                ],
            }
        ],
    }
