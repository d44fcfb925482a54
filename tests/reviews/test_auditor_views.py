"""The auditors' API and pages: complete histories, search, streaming export, read-only."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from reviews.audit import audit_seal
from reviews.errors import NotPermitted
from reviews.models import (
    AuditEvent,
    Determination,
    Member,
    PriorAuthRequest,
    Status,
)
from reviews.selectors.audit import EXPORT_HEADER
from reviews.services import (
    determination_record,
    evidence_checks_run,
    request_claim,
    request_information_ask,
)
from tests.conftest import post_json, token_client
from tests.factories import submit
from tests.reviews.audit_cases import REASONS, fusion_request, last_event_id

AUDIT_URLS = [
    "/api/v1/audit/determinations/",
    "/api/v1/audit/determinations.csv",
    "/api/v1/audit/metrics/?start=2026-01-01&end=2026-12-31",
    "/api/v1/audit/metrics.csv?start=2026-01-01&end=2026-12-31",
]


@pytest.fixture
def decided(org_a, provider_a, physician, policies):
    """The shared fusion example, evaluated by the engine under the shipped policy and denied
    by a physician: what an auditor replays."""
    pa_request = submit(provider_a, "fusion-spondylolisthesis-short-therapy")
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PHYSICIAN_REVIEW
    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=REASONS,
        rationale="Only three weeks of physical therapy are documented.",
    )
    return pa_request, determination


@pytest.fixture
def api_auditor(auditor):
    return token_client(auditor)


def history_url(pa_request) -> str:
    return f"/api/v1/audit/requests/{pa_request.pk}/history/"


def test_an_auditor_replays_a_determination(api_auditor, decided):
    pa_request, determination = decided
    audit_seal()  # as the beat sealer does about every second

    response = api_auditor.get(history_url(pa_request))

    assert response.status_code == 200
    body = response.json()
    assert body["request"]["reference"] == pa_request.reference
    stored = pa_request.evaluations.get()
    (evaluation,) = body["evaluations"]
    assert evaluation["policy_version"]["label"] == stored.policy_version.label
    assert stored.policy_version.label.startswith("spinal_fusion/baseline/v")
    assert evaluation["trace"] == stored.trace
    assert {"FU-03", "FU-06"} <= {r["id"] for r in evaluation["trace"] if r["answer"] == "not_met"}
    (decision,) = body["determinations"]
    assert (decision["outcome"], decision["decided_by"], decision["decided_by_role"]) == (
        "denied",
        "physician",
        "physician",
    )
    assert decision["policy_version"]["label"] == stored.policy_version.label
    assert decision["evaluation_snapshot"]["trace"] == stored.trace
    assert decision["letter"] == reverse("letter", args=[pa_request.pk, determination.pk])
    actions = [e["action"] for e in body["timeline"]]
    assert actions == [
        "request_submitted",
        "status_changed",  # -> evaluating
        "evaluation_recorded",
        "status_changed",  # -> physician_review
        "status_changed",  # -> denied
        "determination_recorded",
        "history_viewed",
    ]
    # Sealed events carry their chain hash; the view just recorded waits for the sealer.
    assert all(len(e["hash"]) == 64 for e in body["timeline"][:-1])
    assert body["timeline"][-1]["hash"] is None


def test_the_history_page_shows_evaluations_determinations_and_the_timeline(
    client, auditor, decided
):
    pa_request, determination = decided
    client.force_login(auditor)

    response = client.get(reverse("audit_history", args=[pa_request.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    stored = pa_request.evaluations.get()
    fu03 = next(r for r in stored.trace if r["id"] == "FU-03")
    assert stored.policy_version.label in page
    assert "FU-03" in page and escape(fu03["explanation"]) in page
    assert reverse("letter", args=[pa_request.pk, determination.pk]) in page
    assert "determination_recorded" in page and "history_viewed" in page


def test_the_history_page_shows_event_data_whatever_its_keys(
    client, auditor, nurse, org_a, provider_a
):
    # information_requested events carry a key named "items".
    pa_request = fusion_request(
        organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW
    )
    request_information_ask(
        pa_request=pa_request,
        actor=nurse,
        items=[{"field": "clinical.imaging", "why": "MRI report.", "criterion": "FU-05"}],
    )
    client.force_login(auditor)

    response = client.get(reverse("audit_history", args=[pa_request.pk]))

    assert response.status_code == 200
    assert "information_requested" in response.content.decode()
    assert "clinical.imaging" in response.content.decode()


def test_a_provider_never_sees_another_organizations_history(api_b, api_a, decided):
    pa_request, _ = decided
    start = last_event_id()

    other = api_b.get(history_url(pa_request))
    own = api_a.get(history_url(pa_request))

    assert other.status_code == 404
    # Its own request exists for it, but the audit history is for auditors.
    assert own.status_code == 403
    assert not AuditEvent.objects.filter(pk__gt=start, action="history_viewed").exists()


@pytest.mark.parametrize("persona", ["nurse", "physician", "provider_a"])
def test_the_audit_api_is_for_auditors(request, persona, decided):
    client = token_client(request.getfixturevalue(persona))

    assert client.get(history_url(decided[0])).status_code == 403
    for url in AUDIT_URLS:
        assert client.get(url).status_code == 403, url


def test_administrators_read_the_audit_api(admin_user, decided):
    client = token_client(admin_user)

    assert client.get(history_url(decided[0])).status_code == 200
    assert client.get(AUDIT_URLS[0]).status_code == 200


def test_anonymous_readers_are_refused(client, decided):
    assert client.get(history_url(decided[0])).status_code in (401, 403)
    page = client.get(reverse("audit_search"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["nurse", "provider_a"])
def test_the_audit_pages_are_for_auditors(request, client, persona, decided):
    client.force_login(request.getfixturevalue(persona))

    for url in (
        reverse("audit_search"),
        reverse("audit_metrics"),
        reverse("audit_history", args=[decided[0].pk]),
    ):
        assert client.get(url).status_code == 403, url


def test_every_write_is_refused_to_auditors(api_auditor, client, auditor, decided):
    pa_request, _ = decided
    client.force_login(auditor)
    count = Determination.objects.count()

    for url in [history_url(pa_request), *AUDIT_URLS]:
        for method in ("post", "put", "patch", "delete"):
            response = getattr(api_auditor, method)(url, {}, format="json")
            assert response.status_code == 405, (method, url)
    for url in (
        reverse("audit_search"),
        reverse("audit_metrics"),
        reverse("audit_history", args=[pa_request.pk]),
    ):
        assert client.post(url, {}).status_code == 405, url
    assert (
        post_json(api_auditor, f"/api/v1/requests/{pa_request.pk}/appeal/", {}).status_code == 403
    )
    assert post_json(api_auditor, "/api/v1/requests/", {}).status_code == 403

    assert Determination.objects.count() == count
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == Status.DENIED


def test_the_services_refuse_auditors(auditor, org_a, provider_a):
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a)

    with pytest.raises(NotPermitted):
        determination_record(pa_request=pa_request, outcome="approved", actor=auditor)
    with pytest.raises(NotPermitted):
        request_claim(pa_request=pa_request, actor=auditor)
    with pytest.raises(NotPermitted):
        request_information_ask(pa_request=pa_request, actor=auditor, items=[{"field": "x"}])

    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == Status.PHYSICIAN_REVIEW


@pytest.fixture
def spread(org_a, org_b, provider_a, provider_b, nurse, physician):
    """Five determinations across organizations, families, reviewers, outcomes and days."""
    now = timezone.now()
    rows = [
        (org_a, provider_a, "spinal_fusion", "denied", physician, 10),
        (org_a, provider_a, "spinal_fusion", "approved", nurse, 5),
        (org_b, provider_b, "epidural_steroid_injection", "approved", None, 3),
        (org_b, provider_b, "epidural_steroid_injection", "partially_approved", physician, 2),
        (org_a, provider_a, "facet_injection", "approved", nurse, 0),
    ]
    made = []
    for organization, submitter, family, outcome, reviewer, days_ago in rows:
        pa_request = fusion_request(
            organization=organization,
            submitted_by=submitter,
            status=outcome,
            procedure_family=family,
        )
        made.append(
            Determination.objects.create(
                request=pa_request,
                outcome=outcome,
                decided_by=reviewer,
                decided_by_role=reviewer.role if reviewer else "engine",
                decided_at=now - timedelta(days=days_ago),
            )
        )
    return made


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_search_by_each_filter(api_auditor, spread, org_b):
    d = [x.pk for x in spread]
    today = timezone.localdate()
    url = "/api/v1/audit/determinations/"

    assert ids(api_auditor.get(url)) == [d[4], d[3], d[2], d[1], d[0]]
    assert ids(api_auditor.get(url, {"outcome": "approved"})) == [d[4], d[2], d[1]]
    assert ids(api_auditor.get(url, {"procedure_family": "spinal_fusion"})) == [d[1], d[0]]
    assert ids(api_auditor.get(url, {"reviewer": "physician"})) == [d[3], d[0]]
    assert ids(api_auditor.get(url, {"organization": org_b.pk})) == [d[3], d[2]]
    window = {
        "date_from": (today - timedelta(days=5)).isoformat(),
        "date_to": (today - timedelta(days=2)).isoformat(),
    }
    assert ids(api_auditor.get(url, window)) == [d[3], d[2], d[1]]
    assert ids(api_auditor.get(url, {"reviewer": "nobody"})) == []


def test_search_is_paginated(api_auditor, spread):
    first = api_auditor.get("/api/v1/audit/determinations/", {"page_size": 2})
    last = api_auditor.get("/api/v1/audit/determinations/", {"page_size": 2, "page": 3})

    assert first.json()["count"] == 5
    assert len(first.json()["results"]) == 2 and first.json()["next"]
    assert ids(last) == [spread[0].pk]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"outcome": "maybe"}, "outcome"),
        ({"organization": "999999"}, "organization"),
        ({"provider_npi": "12"}, "provider_npi"),
        ({"date_to": "9999-12-31"}, "date_to"),
        ({"organization": "abc"}, "organization"),
    ],
)
def test_bad_filters_are_a_400(api_auditor, db, params, field):
    for url in ("/api/v1/audit/determinations/", "/api/v1/audit/determinations.csv"):
        response = api_auditor.get(url, params)
        assert response.status_code == 400, url
        assert field in response.json()["fields"]


def test_the_search_page_lists_and_links_to_the_export(client, auditor, spread):
    client.force_login(auditor)

    response = client.get(reverse("audit_search"), {"outcome": "approved"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "3 determinations" in page
    assert reverse("audit_history", args=[spread[4].request_id]) in page
    assert "/api/v1/audit/determinations.csv?outcome=approved" in page


def _many_determinations(n: int, organization, submitter) -> None:
    member = Member.objects.create(
        member_id="BULK1", first_name="B", last_name="K", birth_date=date(1960, 1, 1), sex="male"
    )
    now = timezone.now()
    requests = PriorAuthRequest.objects.bulk_create(
        PriorAuthRequest(
            organization=organization,
            submitted_by=submitter,
            member=member,
            urgency="standard",
            line_of_business="commercial",
            requesting_provider_npi="1679576722",
            requesting_provider_name="Priya Raman, MD",
            procedure_family="epidural_steroid_injection",
            service={"cpt_codes": ["64483"], "levels": ["L5-S1"]},
            diagnosis_codes=["M51.17"],
            clinical={},
            status=Status.APPROVED,
            received_at=now - timedelta(hours=i % 48 + 1),
            due_at=now + timedelta(days=7),
            decided_at=now,
        )
        for i in range(n)
    )
    Determination.objects.bulk_create(
        Determination(
            request=r,
            outcome="approved",
            decided_by_role="engine",
            authorization_number=f"LAM-BULK-{i}",
            reasons=[],
            decided_at=now - timedelta(seconds=i),
        )
        for i, r in enumerate(requests)
    )


def _open_server_side_cursors() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        return cursor.fetchone()[0]


def test_the_csv_export_streams_from_a_server_side_cursor(api_auditor, org_a, provider_a):
    rows = 3000
    _many_determinations(rows, org_a, provider_a)

    response = api_auditor.get("/api/v1/audit/determinations.csv")

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    chunks = iter(response.streaming_content)
    head = [next(chunks) for _ in range(3)]
    # Mid-stream the rows are still being fetched, a chunk at a time, from an open cursor.
    assert _open_server_side_cursors() == 1
    lines = b"".join([*head, *chunks]).decode().splitlines()
    response.close()
    assert len(lines) == 1 + rows
    table = list(csv.reader(io.StringIO("\n".join(lines))))
    assert tuple(table[0]) == EXPORT_HEADER
    first = dict(zip(table[0], table[1], strict=True))
    assert (first["outcome"], first["decided_by"], first["organization"]) == (
        "approved",
        "engine",
        "Northside Spine Clinic",
    )
    assert first["authorization_number"] == "LAM-BULK-0"


def test_the_csv_export_applies_the_filters(api_auditor, spread):
    response = api_auditor.get("/api/v1/audit/determinations.csv", {"reviewer": "physician"})

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 3
    assert {line.split(",")[0] for line in lines[1:]} == {str(spread[0].pk), str(spread[3].pk)}
    assert "spinal_fusion/" not in lines[1]  # no policy version pinned on these rows


def test_the_metrics_page_defaults_to_the_year_to_date(client, auditor, spread):
    client.force_login(auditor)

    response = client.get(reverse("audit_metrics"))

    today = timezone.localdate()
    assert response.status_code == 200
    assert f'value="{today.year}-01-01"' in response.content.decode()


@pytest.mark.parametrize(
    "query", ["start=0001-01-01&end=9999-12-31", "start=x&end=", "start=2026-01-01"]
)
def test_odd_periods_are_a_400_not_a_500(api_auditor, db, query):
    assert api_auditor.get(f"/api/v1/audit/metrics/?{query}").status_code == 400
    assert api_auditor.get(f"/api/v1/audit/metrics.csv?{query}").status_code == 400


def test_an_unknown_or_huge_request_id_is_a_404(api_auditor, db):
    assert (
        api_auditor.get("/api/v1/audit/requests/99999999999999999999999/history/").status_code
        == 404
    )
    assert api_auditor.get("/api/v1/audit/requests/424242/history/").status_code == 404
