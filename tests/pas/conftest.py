"""FHIR test helpers: the PAS examples (tests/fixtures/fhir), bundles from REST requests, a receiver."""

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pas.questionnaires import FIELDS

FHIR_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
X12_306 = "https://codesystem.x12.org/005010/306"
REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE = (
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewActionCode"
)
SUBMIT = "/fhir/Claim/$submit"
INQUIRE = "/fhir/Claim/$inquire"


def fhir_example(name: str) -> dict:
    return json.loads((FHIR_DIR / f"{name}.json").read_text())


def request_bundle_examples() -> list[Path]:
    """The shared examples a client sends (request bundles and the subscription)."""
    return [
        FHIR_DIR / "Bundle-SurgicalRequestBundleExample.json",
        FHIR_DIR / "Bundle-PASClaimInquiryBundleExample.json",
        FHIR_DIR / "Subscription-PASSubscriptionExample.json",
    ]


def surgical_bundle(birth_date: str | None = "1958-04-02") -> dict:
    """The shared surgical example. It gives no birth date ("DoB Unknown"); Lamina matches
    members on member id and birth date, so tests that expect acceptance add one."""
    bundle = fhir_example("Bundle-SurgicalRequestBundleExample")
    if birth_date:
        patient(bundle)["birthDate"] = birth_date
    return bundle


def entry_of(bundle: dict, rtype: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype)


def patient(bundle: dict) -> dict:
    return entry_of(bundle, "Patient")


def claim(bundle: dict) -> dict:
    return entry_of(bundle, "Claim")


# --- A QuestionnaireResponse holding a REST request's facts -----------------------------------


def _answer(path: str, value) -> dict:
    kind = FIELDS[path].kind
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if kind == "date":
        return {"valueDate": value}
    if kind == "integer":
        return {"valueInteger": value}
    if kind in {"decimal", "number_or_code"} and isinstance(value, int | float):
        return {"valueDecimal": value}
    if kind == "choice":
        return {"valueCoding": {"system": "urn:lamina:vocabulary", "code": value}}
    return {"valueString": value}


def qr_items(values: dict, prefix: str) -> list[dict]:
    items = []
    for key, value in values.items():
        path = f"{prefix}.{key}"
        if value is None or value == [] or value == {}:
            continue  # unknown
        f = FIELDS[path]
        if f.kind == "group" and f.repeats:
            items.extend({"linkId": path, "item": qr_items(v, path)} for v in value)
        elif f.kind == "group":
            items.append({"linkId": path, "item": qr_items(value, path)})
        elif f.repeats:
            items.append({"linkId": path, "answer": [_answer(path, v) for v in value]})
        else:
            items.append({"linkId": path, "answer": [_answer(path, value)]})
    return items


def questionnaire_response(data: dict, family: str = "spinal_fusion") -> dict:
    service = {
        k: v for k, v in data["service"].items() if k not in {"cpt_codes", "setting", "units"}
    }
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "dtr-answers",
        "questionnaire": f"urn:lamina:questionnaire:lamina-{family.replace('_', '-')}",
        "status": "completed",
        "item": qr_items(service, "service") + qr_items(data["clinical"], "clinical"),
    }


POS_FOR = {"inpatient": "21", "office": "11", "ambulatory_surgery_center": "24"}


def bundle_from_request(
    data: dict, *, family: str, member_id: str | None = None, identifier: str = "TRACE-1"
) -> dict:
    """The surgical example turned into the same request: CPT lines, diagnoses and the clinical
    facts in a contained QuestionnaireResponse (as DTR sends them)."""
    bundle = surgical_bundle(birth_date=data["member"]["birth_date"])
    c = claim(bundle)
    c["identifier"][0]["value"] = identifier
    p = patient(bundle)
    p["name"] = [{"family": data["member"]["last_name"], "given": [data["member"]["first_name"]]}]
    p["gender"] = data["member"]["sex"]
    coverage = entry_of(bundle, "Coverage")
    coverage["subscriberId"] = member_id or data["member"]["member_id"]
    practitioner = entry_of(bundle, "Practitioner")
    practitioner["identifier"][0]["value"] = data["requesting_provider"]["npi"]
    # The role points at the practitioner that is in the bundle.
    entry_of(bundle, "PractitionerRole")["practitioner"] = {
        "reference": f"Practitioner/{practitioner['id']}"
    }
    template = c["item"][0]
    items = []
    for n, code in enumerate(data["service"]["cpt_codes"], start=1):
        item = copy.deepcopy(template)
        item["sequence"] = n
        item["productOrService"] = {"coding": [{"system": CPT, "code": code}]}
        item["quantity"] = {"value": data["service"].get("units", 1)}
        setting = data["service"].get("setting")
        if setting in POS_FOR:
            item["locationCodeableConcept"]["coding"][0]["code"] = POS_FOR[setting]
        items.append(item)
    c["item"] = items
    c["diagnosis"] = [
        {"sequence": n, "diagnosisCodeableConcept": {"coding": [{"system": ICD, "code": code}]}}
        for n, code in enumerate(data["diagnosis_codes"], start=1)
    ]
    c["contained"] = [questionnaire_response(data, family)]
    c["supportingInfo"] = [
        {
            "sequence": 1,
            "category": {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
                        "code": "freeFormMessage",
                    }
                ]
            },
            "valueReference": {"reference": "#dtr-answers"},
        }
    ]
    if data.get("urgency") == "expedited":
        c["priority"]["coding"][0]["code"] = "stat"
        c["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "U"
    return bundle


# --- Reading responses -------------------------------------------------------------------------


def inquiry_results(body: dict) -> list[dict]:
    """The response Bundles of a $inquire answer (PAS 2.2.1: Parameters with 0..* `return`)."""
    assert body["resourceType"] == "Parameters", body
    return [p["resource"] for p in body.get("parameter", []) if p["name"] == "return"]


def one_result(body: dict) -> dict:
    """The response Bundle of an answer: a $submit Bundle, or a $inquire with exactly one match."""
    if body["resourceType"] == "Parameters":
        results = inquiry_results(body)
        assert len(results) == 1, results
        return results[0]
    return body


def claim_response(bundle: dict) -> dict:
    return entry_of(one_result(bundle), "ClaimResponse")


def review_actions(response_bundle: dict) -> list[str]:
    out = []
    response_bundle = one_result(response_bundle)
    for item in claim_response(response_bundle)["item"]:
        for adjudication in item["adjudication"]:
            for ext in adjudication.get("extension", []):
                if ext["url"] == REVIEW_ACTION:
                    for sub in ext["extension"]:
                        if sub["url"] == REVIEW_ACTION_CODE:
                            coding = sub["valueCodeableConcept"]["coding"][0]
                            assert coding["system"] == X12_306
                            out.append(coding["code"])
    return out


def post_fhir(client, url: str, body, content_type: str = "application/fhir+json"):
    return client.generic(
        "POST",
        url,
        json.dumps(body) if not isinstance(body, str | bytes) else body,
        content_type=content_type,
        HTTP_ACCEPT="application/fhir+json",
    )


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_submit_wait(settings):
    """Tests without a worker answer at once (pended); a test that wants the wait sets it."""
    settings.FHIR_SUBMIT_WAIT_SECONDS = 0


@pytest.fixture
def eager_celery(settings):
    """Celery tasks run in-process, as on the embedded default."""
    from config.celery_app import app

    # Read before the settings change: the Celery config loads lazily from Django settings, and
    # loading it after the change would remember "eager" as the value to restore.
    previous = app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


class Receiver:
    """A subscriber's endpoint on 127.0.0.1: answers the queued statuses, then 200."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.received: list[dict] = []
        self.headers: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.received.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notifications"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    """Subscriber endpoints on this machine (loopback, allowed for the test)."""
    settings.FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS = True
    receivers: list[Receiver] = []

    def start(statuses: list[int] | None = None) -> Receiver:
        r = Receiver(statuses or [])
        receivers.append(r)
        return r

    yield start
    for r in receivers:
        r.close()
