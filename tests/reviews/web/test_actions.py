"""Every reviewer action through the web, with its confirmation step, and every refusal."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import (
    AuditEvent,
    Determination,
    Evaluation,
    InformationRequest,
    ReviewNote,
    Status,
)
from reviews.services import determination_record, request_claim, request_escalate
from tests.reviews.web.builders import review_case
from tests.reviews.web.conftest import signed_in

pytestmark = pytest.mark.django_db

ESI_05 = (
    "At least 4 weeks of noninvasive conservative care (therapy, home exercise, medications, "
    "activity modification; not bed rest) that failed or was not tolerated, from its earliest "
    "start to its end or the review date."
)


def act(client, case, name, data, *, confirm=True):
    url = reverse("action", args=[case.pk, name])
    return client.post(url, {**data, **({"confirmed": "yes"} if confirm else {})})


def escalated(provider, nurse, **service):
    case = review_case(provider, **service)
    return request_escalate(pa_request=case, actor=nurse, note="Needs a physician.")


# --- Confirmation step --------------------------------------------------------------------------


def test_first_post_shows_a_confirmation_and_changes_nothing(nurse_client, provider_a):
    case = review_case(provider_a)
    response = act(nurse_client, case, "escalate", {"note": "Imaging unclear."}, confirm=False)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Confirm: Escalate to physician {case.reference}?" in html
    assert "Imaging unclear." in html
    assert 'name="confirmed" value="yes"' in html
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


def test_action_form_renders(nurse_client, physician_client, nurse, provider_a):
    case = review_case(provider_a)
    for name in ("approve", "request_information", "escalate"):
        assert nurse_client.get(reverse("action", args=[case.pk, name])).status_code == 200
    case = escalated(provider_a, nurse)
    for name in ("approve", "request_information", "deny", "partial", "peer_to_peer"):
        assert physician_client.get(reverse("action", args=[case.pk, name])).status_code == 200


def test_unknown_action_is_404(nurse_client, provider_a):
    case = review_case(provider_a)
    assert nurse_client.get(reverse("action", args=[case.pk, "explode"])).status_code == 404


# --- Nurse --------------------------------------------------------------------------------------


def test_nurse_approves(nurse_client, nurse, provider_a):
    case = review_case(provider_a)
    response = act(nurse_client, case, "approve", {"rationale": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("case", args=[case.pk])
    case.refresh_from_db()
    assert case.status == Status.APPROVED
    determination = Determination.objects.get(request=case)
    assert determination.outcome == "approved"
    assert determination.decided_by == nurse
    assert determination.decided_by_role == "nurse"
    assert determination.authorization_number


def test_nurse_requests_information(nurse_client, nurse, provider_a):
    case = review_case(provider_a)
    form = nurse_client.get(reverse("action", args=[case.pk, "request_information"]))
    html = form.content.decode()
    assert "an MRI or CT concordant with the symptoms and the treated level" in html  # missing
    assert "ESI-05: At least 4 weeks of noninvasive conservative care" in html  # not-met criterion
    response = act(
        nurse_client,
        case,
        "request_information",
        {
            "items": ["m0", "c:ESI-05"],
            "extra": "The radiologist's report",
            "message": "Please send the MRI report and the therapy notes.",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.PENDING_INFORMATION
    info = InformationRequest.objects.get(request=case, requested_by=nurse)
    assert [i["criterion"] for i in info.items] == ["GEN-06", "ESI-05", ""]
    assert info.items[2]["why"] == "The radiologist's report"
    assert info.message == "Please send the MRI report and the therapy notes."
    assert case.missing_information == info.items


def test_request_information_needs_an_item(nurse_client, provider_a):
    case = review_case(provider_a)
    response = act(nurse_client, case, "request_information", {"message": "Send more."})
    assert response.status_code == 400
    assert b"Pick at least one item" in response.content
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


def test_nurse_escalates_with_a_note(nurse_client, nurse, provider_a):
    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse)
    response = act(nurse_client, case, "escalate", {"note": "Therapy only 20 days."})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW
    assert case.assigned_to is None
    note = ReviewNote.objects.get(request=case)
    assert (note.kind, note.text, note.author) == ("escalation", "Therapy only 20 days.", nurse)


def test_escalation_needs_a_note(nurse_client, provider_a):
    case = review_case(provider_a)
    response = act(nurse_client, case, "escalate", {"note": ""})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


@pytest.mark.parametrize("name", ["deny", "partial", "peer_to_peer"])
def test_nurse_cannot_take_physician_actions(nurse_client, provider_a, name):
    case = review_case(provider_a)
    data = {"reasons": ["ESI-05"], "rationale": "No.", "counterpart": "Dr R", "text": "x"}
    assert nurse_client.get(reverse("action", args=[case.pk, name])).status_code == 403
    response = act(nurse_client, case, name, data)
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW
    assert not Determination.objects.filter(request=case).exists()
    assert not ReviewNote.objects.filter(request=case).exists()


# --- Physician ----------------------------------------------------------------------------------


def test_physician_denies_with_criteria_and_rationale(
    physician_client, physician, nurse, provider_a
):
    case = escalated(provider_a, nurse)
    form = physician_client.get(reverse("action", args=[case.pk, "deny"])).content.decode()
    assert "ESI-05: At least 4 weeks" in form
    assert "ESI-01" not in form  # a met criterion is no reason to deny
    response = act(
        physician_client,
        case,
        "deny",
        {"reasons": ["ESI-05"], "rationale": "Only 20 days of therapy were tried."},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DENIED
    determination = Determination.objects.get(request=case)
    assert determination.outcome == "denied"
    assert determination.decided_by_role == "physician"
    assert determination.reasons == [{"criterion": "ESI-05", "statement": ESI_05}]
    evaluation = Evaluation.objects.get(request=case)
    assert determination.policy_version == evaluation.policy_version
    assert determination.policy_version.label.startswith("epidural_steroid_injection/baseline/v")
    assert AuditEvent.objects.filter(
        request_id_ref=case.pk, action="determination_recorded"
    ).exists()


def test_denial_needs_a_criterion(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse)
    response = act(physician_client, case, "deny", {"rationale": "No."})
    assert response.status_code == 400
    assert b"This field is required" in response.content
    response = act(physician_client, case, "deny", {"reasons": ["ESI-01"], "rationale": "No."})
    assert response.status_code == 400  # ESI-01 was met: not a choice
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW


def test_physician_partially_approves(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2)
    response = act(
        physician_client,
        case,
        "partial",
        {
            "approved_cpt_codes": ["64483"],
            "approved_levels": ["L5-S1"],
            "approved_units": "1",
            "reasons": ["ESI-02"],
            "rationale": "Imaging explains the symptoms at L5-S1 only.",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.PARTIALLY_APPROVED
    determination = Determination.objects.get(request=case)
    assert determination.approved_levels == ["L5-S1"]
    assert determination.approved_units == 1
    assert determination.reasons[0]["criterion"] == "ESI-02"


def test_partial_approval_of_everything_is_refused_plainly(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2)
    response = act(
        physician_client,
        case,
        "partial",
        {
            "approved_cpt_codes": ["64483"],
            "approved_levels": ["L4-L5", "L5-S1"],
            "approved_units": "2",
            "reasons": ["ESI-05"],
            "rationale": "Everything.",
        },
    )
    assert response.status_code == 400
    assert b"A partial approval approves less than was requested" in response.content
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW


def test_partial_units_above_the_request_are_refused(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2)
    response = act(
        physician_client,
        case,
        "partial",
        {
            "approved_cpt_codes": ["64483"],
            "approved_levels": ["L5-S1"],
            "approved_units": "9",
            "reasons": ["ESI-05"],
            "rationale": "x",
        },
    )
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW


def test_physician_records_a_peer_to_peer(physician_client, physician, nurse, provider_a):
    case = escalated(provider_a, nurse)
    when = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = act(
        physician_client,
        case,
        "peer_to_peer",
        {"counterpart": "Dr Priya Raman", "occurred_at": when, "text": "Discussed therapy."},
    )
    assert response.status_code == 302
    note = ReviewNote.objects.get(request=case, kind="peer_to_peer")
    assert note.author == physician and note.counterpart == "Dr Priya Raman"
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW


def test_peer_to_peer_in_the_future_is_refused_plainly(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse)
    when = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = act(
        physician_client,
        case,
        "peer_to_peer",
        {"counterpart": "Dr R", "occurred_at": when, "text": "Later."},
    )
    assert response.status_code == 400
    assert b"cannot be in the future" in response.content
    assert not ReviewNote.objects.filter(request=case, kind="peer_to_peer").exists()


def test_physician_requests_information(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse)
    response = act(
        physician_client,
        case,
        "request_information",
        {"items": ["m0"], "message": "Is the MRI concordant?"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.PENDING_INFORMATION


def test_physician_approves(physician_client, nurse, provider_a):
    case = escalated(provider_a, nurse)
    assert act(physician_client, case, "approve", {}).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.APPROVED


def test_physician_cannot_escalate(physician_client, provider_a):
    case = review_case(provider_a)
    assert act(physician_client, case, "escalate", {"note": "x"}).status_code == 403
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


def test_physician_cannot_deny_before_escalation(physician_client, provider_a):
    case = review_case(provider_a)
    response = act(physician_client, case, "deny", {"reasons": ["ESI-05"], "rationale": "No."})
    # The service refuses it (nurse review cannot move to denied); the page says so plainly.
    assert response.status_code == 409
    assert b"Nothing was changed." in response.content
    assert b"cannot move to &#x27;denied&#x27;" in response.content
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


# --- Races and holders --------------------------------------------------------------------------


def test_someone_else_decided_first_is_shown_plainly(
    physician_client, physician2, nurse, provider_a
):
    case = escalated(provider_a, nurse)
    # The physician reads the confirmation page...
    act(physician_client, case, "deny", {"reasons": ["ESI-05"], "rationale": "No."}, confirm=False)
    # ...while another physician approves the case.
    determination_record(pa_request=case, outcome="approved", actor=physician2)
    response = act(physician_client, case, "deny", {"reasons": ["ESI-05"], "rationale": "No."})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Nothing was changed." in html
    assert "may have been decided or changed by someone else" in html
    assert Determination.objects.filter(request=case).count() == 1
    case.refresh_from_db()
    assert case.status == Status.APPROVED


def test_acting_on_a_case_someone_else_holds_is_refused(nurse_client, nurse2, provider_a):
    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse2)
    response = act(nurse_client, case, "approve", {})
    assert response.status_code == 409
    assert b"nurse2 holds this case" in response.content
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


def test_holder_may_act(nurse2, provider_a):
    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse2)
    assert act(signed_in(nurse2), case, "approve", {}).status_code == 302
