"""Idempotency-Key: a retry gets the first answer and stores nothing new."""

import json
import threading

import pytest
from django.db import connection

from reviews.models import AuditEvent, IdempotencyRecord, PriorAuthRequest
from tests.conftest import example, post_json

URL = "/api/v1/requests/"


def esi() -> dict:
    return example("esi-lumbar-radiculopathy")


def test_same_key_and_body_replays_the_first_answer_without_a_new_row(api_a):
    first = post_json(api_a, URL, esi(), key="retry-1")
    rows, events = PriorAuthRequest.objects.count(), AuditEvent.objects.count()

    second = post_json(api_a, URL, esi(), key="retry-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert PriorAuthRequest.objects.count() == rows == 1
    assert AuditEvent.objects.count() == events


def test_key_order_and_whitespace_do_not_make_a_different_body(api_a):
    body = esi()
    first = post_json(api_a, URL, json.dumps(body), key="same")

    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    second = post_json(api_a, URL, reordered, key="same")

    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert PriorAuthRequest.objects.count() == 1


def test_same_key_with_a_different_body_is_a_409(api_a):
    post_json(api_a, URL, esi(), key="k")
    changed = esi()
    changed["clinical"]["pain_score_nrs"] = 8

    response = post_json(api_a, URL, changed, key="k")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert set(response.json()) == {"code", "message", "fields"}
    assert PriorAuthRequest.objects.count() == 1


def test_different_keys_are_different_requests(api_a):
    post_json(api_a, URL, esi(), key="one")
    post_json(api_a, URL, esi(), key="two")

    assert PriorAuthRequest.objects.count() == 2


def test_keys_are_scoped_per_user(api_a, api_b):
    a = post_json(api_a, URL, esi(), key="shared-key")
    b = post_json(api_b, URL, example("rfa-lumbar-after-two-blocks"), key="shared-key")

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert PriorAuthRequest.objects.count() == 2


def test_keys_are_scoped_per_endpoint(api_a):
    created = post_json(api_a, URL, esi(), key="reused")

    withdrawn = post_json(
        api_a, f"{URL}{created.json()['id']}/withdraw/", {"reason": "duplicate"}, key="reused"
    )

    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"


def test_a_refused_body_does_not_use_up_the_key(api_a):
    bad = esi()
    bad["clinical"]["bmi"] = 200
    assert post_json(api_a, URL, bad, key="fix-and-retry").status_code == 400
    assert not IdempotencyRecord.objects.exists()

    response = post_json(api_a, URL, esi(), key="fix-and-retry")

    assert response.status_code == 201
    assert PriorAuthRequest.objects.count() == 1


def test_a_key_longer_than_255_characters_is_a_400(api_a):
    response = post_json(api_a, URL, esi(), key="k" * 256)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert not PriorAuthRequest.objects.exists()


def test_withdraw_replays_under_its_key_and_refuses_a_second_withdrawal(api_a):
    created = post_json(api_a, URL, esi()).json()
    url = f"{URL}{created['id']}/withdraw/"
    first = post_json(api_a, url, {}, key="w1")

    replay = post_json(api_a, url, {}, key="w1")
    again = post_json(api_a, url, {}, key="w2")

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_store_one_request(provider_a):
    from tests.conftest import token_client

    body = json.dumps(esi())
    barrier = threading.Barrier(4)
    responses = []
    lock = threading.Lock()

    def submit():
        client = token_client(provider_a)
        barrier.wait()
        try:
            response = post_json(client, URL, body, key="racing-key")
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["id"] for r in responses}) == 1
    assert PriorAuthRequest.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert AuditEvent.objects.filter(action="request_submitted").count() == 1
