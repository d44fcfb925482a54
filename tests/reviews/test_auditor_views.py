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
    request_claim(pa_request=pa_request, actor=physician)
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
        "assigned",  # the physician claims the case
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
    assert "· Standard · Spinal fusion ·" in page  # labels, not stored codes


def test_the_history_page_shows_event_data_whatever_its_keys(
    client, auditor, nurse, org_a, provider_a
):
    # information_requested events carry a key named "items".
    pa_request = fusion_request(
        organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW
    )
    request_claim(pa_request=pa_request, actor=nurse)
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


def test_search_finds_a_request_by_reference_and_member_id(client, auditor, spread, api_auditor):
    client.force_login(auditor)
    target = spread[2].request

    for reference in (target.reference, target.reference.lower(), str(target.pk)):
        page = client.get(reverse("audit_search"), {"request": reference}).content.decode()
        assert "1 determination." in page, reference
        assert reverse("audit_history", args=[target.pk]) in page

    page = client.get(reverse("audit_search"), {"member_id": target.member.member_id.lower()})
    html = page.content.decode()
    shared = Determination.objects.filter(request__member=target.member).count()
    assert f"{shared} determination" in html
    assert 'id="matching-requests"' in html and target.reference in html
    # the API takes the same parameters
    response = api_auditor.get("/api/v1/audit/determinations/", {"request": target.reference})
    assert ids(response) == [spread[2].pk]


def test_search_finds_an_undecided_request_by_reference(client, auditor, org_a, provider_a):
    pa_request = fusion_request(organization=org_a, submitted_by=provider_a)
    client.force_login(auditor)
    html = client.get(reverse("audit_search"), {"request": pa_request.reference}).content.decode()
    assert "0 determinations" in html
    assert reverse("audit_history", args=[pa_request.pk]) in html


@pytest.mark.parametrize(
    "reference, message",
    [
        ("PA-x", "A reference looks like PA-00000012"),
        ("PA-" + "9" * 40, "at most 30 characters"),
        ("1\x00", "Null characters are not allowed."),
    ],
)
def test_a_malformed_reference_is_a_field_error(
    client, auditor, api_auditor, db, reference, message
):
    client.force_login(auditor)
    response = client.get(reverse("audit_search"), {"request": reference})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Correct the filters to search." in response.content.decode()
    api = api_auditor.get("/api/v1/audit/determinations/", {"request": reference})
    assert api.status_code == 400 and "request" in api.json()["fields"]


def test_dates_are_picked_with_date_inputs(client, auditor, db):
    client.force_login(auditor)
    search = client.get(reverse("audit_search")).content.decode()
    metrics = client.get(reverse("audit_metrics")).content.decode()
    for name in ("date_from", "date_to"):
        assert f'type="date" name="{name}"' in search
    for name in ("start", "end"):
        assert f'type="date" name="{name}"' in metrics


def test_the_metrics_page_has_charts_and_human_labels(client, auditor, spread):
    client.force_login(auditor)
    html = client.get(reverse("audit_metrics")).content.decode()
    assert html.count('<svg class="chart"') == 2
    assert "Spinal fusion" in html and "Epidural steroid injection" in html
    assert "All procedures" in html and "Standard" in html
    assert "spinal_fusion" not in html and "approved_after_extension" not in html


def test_every_page_has_the_same_navigation(client, auditor, decided):
    pa_request, _ = decided
    client.force_login(auditor)
    pages = [
        reverse("queue"),
        reverse("dashboard"),
        reverse("case", args=[pa_request.pk]),
        reverse("audit_search"),
        reverse("audit_history", args=[pa_request.pk]),
        reverse("audit_metrics"),
        reverse("audit_verify"),
    ]
    navs = set()
    for url in pages:
        html = client.get(url).content.decode()
        nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
        navs.add(nav.replace(' aria-current="page"', ""))
    assert len(navs) == 1
    [nav] = navs
    for label in ("Queue", "Dashboard", "Audit", "Metrics", "Verify chain"):
        assert f">{label}</a>" in nav


def test_a_refused_audit_page_is_a_styled_403(client, nurse, db):
    client.force_login(nurse)
    response = client.get(reverse("audit_metrics"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "Not available to your role" in html
    assert "lamina.css" in html and '<nav aria-label="Main">' in html
    assert "The audit pages are for auditors and plan administrators." in html


def test_an_unknown_page_is_a_styled_404(client, auditor, db):
    client.force_login(auditor)
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Nothing here" in html and "lamina.css" in html and "/no/such/page/" in html


def test_verify_the_chain_from_the_web(
    client, auditor, decided, django_capture_on_commit_callbacks
):
    from reviews.audit_verify import audit_chain_verify
    from reviews.web.audit_tasks import verify_audit_chain

    client.force_login(auditor)
    assert "Verify the chain now" in client.get(reverse("audit_verify")).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("audit_verify"))
    assert response.status_code == 302 and len(callbacks) == 1
    job = response["Location"].split("job=")[1]
    # queued: the page polls
    waiting = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert (
        b"Waiting for a worker" in waiting.content and b'hx-trigger="every 1s"' in waiting.content
    )

    # the task itself, run here as a worker would run it
    verify_audit_chain.apply(args=[job], kwargs={"chunk_size": 3})
    finished = client.get(response["Location"]).content.decode()
    report = audit_chain_verify()
    assert "The chain verifies" in finished
    assert f'<code id="verify-head">{report.head_hash}</code>' in finished
    assert f'<dd id="verify-count">{report.count}</dd>' in finished


def test_a_broken_chain_names_its_first_broken_link(client, auditor, decided):
    from reviews.audit_verify import audit_chain_verify
    from reviews.web.audit_tasks import verify_audit_chain, verify_job_create
    from tests.reviews.test_verify_audit import tamper

    audit_seal()
    # Delete one sealed event behind the trigger's back, as the tables' owner could.
    victim = AuditEvent.objects.filter(position__isnull=False).order_by("position")[2]
    tamper("DELETE FROM reviews_auditevent WHERE id = %s", [victim.pk])
    job = verify_job_create(actor=auditor)
    verify_audit_chain.apply(args=[job])
    client.force_login(auditor)
    html = client.get(reverse("audit_verify"), {"job": job}).content.decode()
    report = audit_chain_verify()
    assert not report.ok and report.kind == "broken link"
    assert "The chain is broken" in html
    assert f"audit event <code>{report.event_id}</code> (broken link)" in html
    assert f'<code id="verify-head">{report.head_hash}</code>' in html


@pytest.mark.parametrize("job", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_verification_is_a_404(client, auditor, db, job):
    client.force_login(auditor)
    assert client.get(reverse("audit_verify"), {"job": job}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_verifies_the_chain_for_the_page(client, auditor, start_worker):
    from reviews.audit import audit_record
    from reviews.audit_verify import audit_chain_verify
    from tests.conftest import wait_for

    for i in range(5):
        audit_record(action="test_event", actor="system", data={"n": i})
    start_worker(concurrency=1)
    client.force_login(auditor)

    response = client.post(reverse("audit_verify"))
    assert response.status_code == 302

    def finished():
        html = client.get(response["Location"]).content.decode()
        return html if "The chain verifies" in html else None

    html = wait_for(finished, timeout=60)
    report = audit_chain_verify()
    assert report.ok
    assert f'<code id="verify-head">{report.head_hash}</code>' in html
    assert f'<dd id="verify-count">{report.count}</dd>' in html
