"""What one submission costs in SQL: the statement count is pinned.

Measured on a real transaction (transactional test, so BEGIN and COMMIT are counted too). Before
the intake was reworked one submission ran 33 statements, 13 of them savepoints of nested atomic
blocks; now the idempotency claim and the member are one statement each, the audit events take
no savepoint, and the response is built from memory (the member and lines just written, and no
evaluation or determination yet) without reading anything back.
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviews.models import Member, PriorAuthRequest, Status
from tests.conftest import example, post_json

URL = "/api/v1/requests/"
# authentication 2 (token and user, the user's groups), BEGIN, idempotency claim, member,
# request, service lines, attachments, audit event, the transition to evaluating (savepoint,
# row lock, audit event, update, release), the idempotency answer, COMMIT.
STATEMENTS_PER_SUBMISSION = 16


def submit(api, member_id: str):
    body = example("esi-lumbar-radiculopathy")
    body["member"]["member_id"] = member_id
    with CaptureQueriesContext(connection) as queries:
        response = post_json(api, URL, body, key=uuid.uuid4().hex)
    return response, [q["sql"] for q in queries.captured_queries]


def kinds(statements: list[str]) -> list[str]:
    return [sql.split(None, 1)[0].upper() for sql in statements]


@pytest.mark.django_db(transaction=True)
def test_a_submission_runs_a_pinned_number_of_statements(api_a, policies):
    submit(api_a, "M-WARM-UP")  # first use of the connection, the caches and the user

    response, statements = submit(api_a, "M-NEW-1")

    assert response.status_code == 201, response.content
    assert len(statements) == STATEMENTS_PER_SUBMISSION, "\n".join(statements)
    assert kinds(statements).count("SAVEPOINT") == 1  # the state machine's own, and no other
    # The response came from memory: nothing of the request was read back.
    for table in ("member", "serviceline", "evaluation", "determination", "informationrequest"):
        assert not any(f'FROM "reviews_{table}"' in sql for sql in statements), table
    body = response.json()
    assert body["member_id"] == "M-NEW-1"
    assert [line["cpt_code"] for line in body["service_lines"]] == ["64483"]
    assert (body["criteria"], body["consistency"], body["determination"]) == ([], [], None)
    # The same request read back from the database answers the same.
    assert api_a.get(f"{URL}{body['id']}/").json() == body
    stored = PriorAuthRequest.objects.get(pk=body["id"])
    assert (stored.status, stored.member.member_id) == (Status.EVALUATING, "M-NEW-1")


@pytest.mark.django_db(transaction=True)
def test_a_known_member_costs_the_same_and_is_matched_not_duplicated(api_a, policies):
    submit(api_a, "M-KNOWN")

    response, statements = submit(api_a, "M-KNOWN")

    assert response.status_code == 201
    assert len(statements) == STATEMENTS_PER_SUBMISSION
    assert Member.objects.filter(member_id="M-KNOWN").count() == 1
    assert PriorAuthRequest.objects.filter(member__member_id="M-KNOWN").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_member_on_file_with_another_birth_date_is_refused_and_nothing_is_stored(api_a, policies):
    submit(api_a, "M-TWIN")
    body = example("esi-lumbar-radiculopathy")
    body["member"]["member_id"] = "M-TWIN"
    body["member"]["birth_date"] = "1980-01-01"
    requests = PriorAuthRequest.objects.count()

    response = post_json(api_a, URL, body)

    assert response.status_code == 400
    assert "member.birth_date" in response.json()["fields"]
    assert PriorAuthRequest.objects.count() == requests
    assert Member.objects.get(member_id="M-TWIN").birth_date.isoformat() != "1980-01-01"


@pytest.mark.django_db(transaction=True)
def test_a_replay_is_one_claim_and_one_read(api_a, policies):
    body = example("esi-lumbar-radiculopathy")
    first = post_json(api_a, URL, body, key="replay-cost")

    with CaptureQueriesContext(connection) as queries:
        second = post_json(api_a, URL, body, key="replay-cost")

    assert second.status_code == 201 and second.json() == first.json()
    statements = kinds([q["sql"] for q in queries.captured_queries])
    # authentication 2, BEGIN, the claim (finds the key taken), the stored answer, COMMIT.
    assert statements[2:] == ["BEGIN", "INSERT", "SELECT", "COMMIT"]
