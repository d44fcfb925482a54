"""The provider's list: lean, newest first, paginated and filtered."""

from datetime import timedelta

from django.utils import timezone

from reviews.models import PriorAuthRequest
from tests.conftest import example, post_json

URL = "/api/v1/requests/"


def submit(client, name: str, **changes) -> dict:
    body = example(name)
    body.update(changes)
    response = post_json(client, URL, body)
    assert response.status_code == 201, response.json()
    return response.json()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [r["id"] for r in response.json()["results"]]


def test_the_list_is_newest_first_and_carries_no_clinical_data(api_a):
    first = submit(api_a, "esi-lumbar-radiculopathy")
    second = submit(api_a, "fusion-spondylolisthesis-short-therapy")

    response = api_a.get(URL)

    assert ids(response) == [second["id"], first["id"]]
    row = response.json()["results"][0]
    assert set(row) == {
        "id",
        "reference",
        "external_id",
        "status",
        "urgency",
        "procedure_family",
        "recommendation",
        "received_at",
        "due_at",
        "clock_state",
        "decided_at",
        "links",
    }
    assert row["links"]["self"].endswith(f"/api/v1/requests/{second['id']}/")


def test_filters_by_status_family_and_urgency(api_a):
    esi = submit(api_a, "esi-lumbar-radiculopathy", urgency="expedited")
    fusion = submit(api_a, "fusion-spondylolisthesis-short-therapy")
    post_json(api_a, f"{URL}{fusion['id']}/withdraw/", {})

    assert ids(api_a.get(URL, {"status": "withdrawn"})) == [fusion["id"]]
    assert ids(api_a.get(URL, {"status": "evaluating"})) == [esi["id"]]
    assert ids(api_a.get(URL, {"procedure_family": "spinal_fusion"})) == [fusion["id"]]
    assert ids(api_a.get(URL, {"urgency": "expedited"})) == [esi["id"]]
    assert ids(api_a.get(URL, {"urgency": "expedited", "status": "withdrawn"})) == []


def test_filters_by_the_day_received(api_a):
    old = submit(api_a, "esi-lumbar-radiculopathy")
    new = submit(api_a, "rfa-lumbar-after-two-blocks")
    ten_days_ago = timezone.now() - timedelta(days=10)
    PriorAuthRequest.objects.filter(pk=old["id"]).update(received_at=ten_days_ago)
    today = timezone.localdate()

    assert ids(api_a.get(URL, {"received_after": today.isoformat()})) == [new["id"]]
    assert ids(api_a.get(URL, {"received_before": (today - timedelta(days=1)).isoformat()})) == [
        old["id"]
    ]
    both = {
        "received_after": ten_days_ago.date().isoformat(),
        "received_before": today.isoformat(),
    }
    assert sorted(ids(api_a.get(URL, both))) == sorted([old["id"], new["id"]])


def test_the_list_is_paginated(api_a):
    created = [submit(api_a, "esi-lumbar-radiculopathy")["id"] for _ in range(3)]

    page1 = api_a.get(URL, {"page_size": 2})
    page2 = api_a.get(URL, {"page_size": 2, "page": 2})

    assert page1.json()["count"] == 3
    assert ids(page1) == created[::-1][:2]
    assert ids(page2) == created[::-1][2:]
    assert page1.json()["next"] and page2.json()["next"] is None
    assert api_a.get(URL, {"page": 9}).status_code == 404
