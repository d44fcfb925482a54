"""The shared example requests are accepted exactly as written (REQUEST.md)."""

import pytest

from reviews.models import Attachment, AuditEvent, PriorAuthRequest, ServiceLine, Status
from tests.conftest import EXAMPLES, example, post_json

URL = "/api/v1/requests/"
EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.json"))


def test_the_shared_examples_are_all_found():
    assert len(EXAMPLE_NAMES) >= 3


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_each_shared_example_is_accepted_as_written(api_a, provider_a, name):
    body = example(name)

    response = post_json(api_a, URL, body)

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == Status.EVALUATING
    assert data["external_id"] == body["external_id"]
    assert data["received_at"] and data["due_at"]
    assert data["links"]["self"].endswith(f"/api/v1/requests/{data['id']}/")
    assert response["Location"] == f"/api/v1/requests/{data['id']}/"
    stored = PriorAuthRequest.objects.get(pk=data["id"])
    assert stored.organization_id == provider_a.organization_id
    assert stored.member.member_id == body["member"]["member_id"]
    # Stored as sent: the clinical object round-trips unchanged.
    assert stored.clinical == body["clinical"]
    assert stored.service == body["service"]
    assert stored.diagnosis_codes == body["diagnosis_codes"]
    assert [line.cpt_code for line in ServiceLine.objects.filter(request=stored)] == body[
        "service"
    ]["cpt_codes"]
    assert Attachment.objects.filter(request=stored).count() == len(body.get("attachments") or [])
    assert AuditEvent.objects.filter(
        request_id_ref=stored.pk, action="request_submitted", actor=provider_a
    ).exists()


def test_the_answer_describes_each_service_line(api_a):
    response = post_json(api_a, URL, example("fusion-spondylolisthesis-short-therapy"))

    lines = response.json()["service_lines"]
    assert [line["cpt_code"] for line in lines] == ["22633", "22840", "22853"]
    assert all(line["description"] and line["family"] == "spinal_fusion" for line in lines)
    assert response.json()["procedure_family"] == "spinal_fusion"


def test_a_code_no_policy_covers_is_accepted_for_a_human(api_a):
    body = example("esi-lumbar-radiculopathy")
    body["service"]["cpt_codes"] = ["62380"]  # endoscopic decompression: no Lamina policy

    response = post_json(api_a, URL, body)

    assert response.status_code == 201, response.json()
    assert response.json()["procedure_family"] == ""
    assert response.json()["service_lines"][0]["family"] == ""


def test_omitted_and_null_optional_fields_mean_unknown(api_a):
    body = example("esi-lumbar-radiculopathy")
    del body["line_of_business"]
    del body["attachments"]
    body["clinical"] = {"pain_type": None, "pain_score_nrs": None, "red_flags": {"fever": None}}
    body["service"] = {"cpt_codes": ["64483"]}

    response = post_json(api_a, URL, body)

    assert response.status_code == 201, response.json()
    stored = PriorAuthRequest.objects.get(pk=response.json()["id"])
    assert stored.clinical == {
        "pain_type": None,
        "pain_score_nrs": None,
        "red_flags": {"fever": None},
    }


def test_the_detail_shows_what_the_provider_submitted_after_submission(api_a):
    created = post_json(api_a, URL, example("rfa-lumbar-after-two-blocks")).json()

    response = api_a.get(f"/api/v1/requests/{created['id']}/")

    assert response.status_code == 200
    data = response.json()
    assert data["reference"] == f"PA-{created['id']:08d}"
    assert data["levels"] == ["L4-L5", "L5-S1"]
    assert data["line_of_business"] == "medicare_advantage"
    assert data["criteria"] == [] and data["determination"] is None
    assert data["links"]["withdraw"].endswith(f"/api/v1/requests/{created['id']}/withdraw/")
    assert data["links"]["information"] is None
