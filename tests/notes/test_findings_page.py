"""The findings on the case page: conflicts on top, each note highlighted and safely escaped."""

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from notes.selectors import findings_for_request
from notes.services import notes_read_for_request
from reviews.services import evidence_checks_run, request_submit
from tests.factories import submission

pytestmark = pytest.mark.django_db

HOSTILE = (
    'Pain since August. <script>alert("x")</script> & New saddle numbness since yesterday. '
    "Denies fever. PT x2 visits."
)


def request_with_note(provider, text: str):
    data = submission()
    data["attachments"][0]["text"] = text
    pa_request = request_submit(actor=provider, data=data)
    notes_read_for_request(pa_request=pa_request)
    return pa_request


def test_the_selector_highlights_each_finding_with_its_context_and_escapes_the_note(provider_a):
    pa_request = request_with_note(provider_a, HOSTILE)

    result = findings_for_request(pa_request=pa_request)

    assert [c["concept"] for c in result["conflicts"]] == ["saddle_anesthesia", "physical_therapy"]
    (item,) = result["attachments"]
    assert item["attachment"] == pa_request.attachments.get()
    assert {f.concept for f in item["findings"]} >= {"saddle_anesthesia", "fever"}
    html = str(item["highlighted_html"])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; New" in html
    attachment_id = item["attachment"].pk
    start = HOSTILE.index("saddle numbness")
    assert (
        f'<mark id="finding-{attachment_id}-{start}" class="finding finding-affirmed '
        'finding-red_flag finding-conflict" title="saddle anesthesia (affirmed)">saddle numbness'
        "</mark>"
    ) in html
    assert 'class="finding finding-negated finding-red_flag" title="fever (negated)">fever' in html
    assert 'title="physical therapy (affirmed): 2 visits">PT</mark>' in html


def test_a_note_not_yet_read_is_shown_plain(provider_a):
    data = submission()
    data["attachments"][0]["text"] = "New saddle numbness <b>today</b>."
    pa_request = request_submit(actor=provider_a, data=data)

    result = findings_for_request(pa_request=pa_request)

    assert result["conflicts"] == []
    assert result["attachments"][0]["findings"] == []
    assert str(result["attachments"][0]["highlighted_html"]) == (
        "New saddle numbness &lt;b&gt;today&lt;/b&gt;."
    )


def test_the_case_page_lists_the_conflicts_above_the_highlighted_note(policies, provider_a, nurse):
    data = submission()
    data["attachments"][0]["text"] = HOSTILE
    pa_request = request_submit(actor=provider_a, data=data)
    evidence_checks_run(pa_request=pa_request, review_date=date(2026, 11, 30))
    client = Client()
    client.force_login(nurse)

    response = client.get(reverse("case", args=[pa_request.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "notes/notes.css" in html
    assert "<script>alert" not in html
    conflicts = html.index("The notes disagree with the attested facts (2)")
    mark = html.index('<mark id="finding-')
    assert conflicts < mark
    assert "GEN-03" in html and "ESI-05" in html
    assert 'title="saddle anesthesia (affirmed)">saddle numbness</mark>' in html
