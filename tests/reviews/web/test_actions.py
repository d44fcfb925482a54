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
from reviews.services import (
    determination_record,
    request_claim,
    request_escalate,
    request_release,
)
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
    """A case the nurse claimed and escalated: unassigned in physician review."""
    case = review_case(provider, **service)
    request_claim(pa_request=case, actor=nurse)
    return request_escalate(pa_request=case, actor=nurse, note="Needs a physician.")


def held(case, reviewer):
    """The case claimed by `reviewer`: a reviewer acts only on a case they hold."""
    return request_claim(pa_request=case, actor=reviewer)


# --- Confirmation step --------------------------------------------------------------------------


def test_first_post_shows_a_confirmation_and_changes_nothing(nurse_client, nurse, provider_a):
    case = held(review_case(provider_a), nurse)
    response = act(nurse_client, case, "escalate", {"note": "Imaging unclear."}, confirm=False)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Confirm: Escalate to physician {case.reference}?" in html
    assert "Imaging unclear." in html
    assert 'name="confirmed" value="yes"' in html
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


def test_action_form_renders(nurse_client, physician_client, nurse, physician, provider_a):
    case = held(review_case(provider_a), nurse)
    for name in ("approve", "request_information", "escalate"):
        assert nurse_client.get(reverse("action", args=[case.pk, name])).status_code == 200
    case = held(escalated(provider_a, nurse), physician)
    for name in ("approve", "request_information", "deny", "partial", "peer_to_peer"):
        assert physician_client.get(reverse("action", args=[case.pk, name])).status_code == 200


def test_unknown_action_is_404(nurse_client, provider_a):
    case = review_case(provider_a)
    assert nurse_client.get(reverse("action", args=[case.pk, "explode"])).status_code == 404


# --- Nurse --------------------------------------------------------------------------------------


def test_nurse_approves(nurse_client, nurse, provider_a):
    case = held(review_case(provider_a), nurse)
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
    case = held(review_case(provider_a), nurse)
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


def test_request_information_needs_an_item(nurse_client, nurse, provider_a):
    case = held(review_case(provider_a), nurse)
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


def test_escalation_needs_a_note(nurse_client, nurse, provider_a):
    case = held(review_case(provider_a), nurse)
    response = act(nurse_client, case, "escalate", {"note": ""})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


@pytest.mark.parametrize("name", ["deny", "partial", "peer_to_peer"])
def test_nurse_cannot_take_physician_actions(nurse_client, nurse, provider_a, name):
    case = held(review_case(provider_a), nurse)
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
    case = held(escalated(provider_a, nurse), physician)
    form = physician_client.get(reverse("action", args=[case.pk, "deny"])).content.decode()
    assert "ESI-05: At least 4 weeks" in form
    assert "ESI-01: A covered indication" in form  # met, yet the physician may judge otherwise
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
    assert determination.reasons == [
        {"criterion": "ESI-05", "statement": ESI_05, "answer": "not_met", "note": ""}
    ]
    evaluation = Evaluation.objects.get(request=case)
    assert determination.policy_version == evaluation.policy_version
    assert determination.policy_version.label.startswith("epidural_steroid_injection/baseline/v")
    assert AuditEvent.objects.filter(
        request_id_ref=case.pk, action="determination_recorded"
    ).exists()


def test_denial_needs_a_reason(physician_client, physician, nurse, provider_a):
    case = held(escalated(provider_a, nurse), physician)
    response = act(physician_client, case, "deny", {"rationale": "No."})
    assert response.status_code == 400
    assert b"Name at least one reason" in response.content
    # ESI-01 was met: naming it needs the physician's note on why it is not
    response = act(physician_client, case, "deny", {"reasons": ["ESI-01"], "rationale": "No."})
    assert response.status_code == 400
    assert b"The engine found ESI-01 met: say why you judge it is not." in response.content
    # a written reason needs its source
    response = act(
        physician_client, case, "deny", {"written_reason": "Not needed.", "rationale": "No."}
    )
    assert response.status_code == 400
    assert b"Choose the evidence the written reason rests on." in response.content
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW
    assert not Determination.objects.filter(request=case).exists()


def test_physician_denies_a_met_criterion_with_a_note(
    physician_client, physician, nurse, provider_a
):
    case = held(escalated(provider_a, nurse), physician)
    note = "The 'radicular' pain is axial in the note of the 5th."
    response = act(
        physician_client,
        case,
        "deny",
        {"reasons": ["ESI-01"], "reason_note": note, "rationale": "Axial pain only."},
    )
    assert response.status_code == 302
    (reason,) = Determination.objects.get(request=case).reasons
    assert (reason["criterion"], reason["answer"], reason["note"]) == ("ESI-01", "met", note)


def test_physician_denies_a_no_policy_case_with_a_written_reason(
    physician_client, physician, nurse, provider_a
):
    # a request no Lamina policy covers: no criterion to name, a written reason with its source
    case = held(escalated(provider_a, nurse), physician)
    Evaluation.objects.filter(request=case).update(policy_version=None, trace=[])
    form = physician_client.get(reverse("action", args=[case.pk, "deny"])).content.decode()
    assert "No Lamina policy covers the requested codes" in form
    response = act(
        physician_client,
        case,
        "deny",
        {
            "written_reason": "An injection at this level was done six weeks ago.",
            "written_source": "no_policy",
            "rationale": "Too soon after the last injection.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    (reason,) = Determination.objects.get(request=case).reasons
    assert (reason["criterion"], reason["source"]) == ("", "no_policy")
    assert reason["statement"] == "An injection at this level was done six weeks ago."


def test_physician_partially_approves(physician_client, physician, nurse, provider_a):
    case = held(escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2), physician)
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


def test_partial_approval_of_everything_is_refused_plainly(
    physician_client, physician, nurse, provider_a
):
    case = held(escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2), physician)
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


def test_partial_units_above_the_request_are_refused(
    physician_client, physician, nurse, provider_a
):
    case = held(escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2), physician)
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
    case = held(escalated(provider_a, nurse), physician)
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


def test_peer_to_peer_in_the_future_is_refused_plainly(
    physician_client, physician, nurse, provider_a
):
    case = held(escalated(provider_a, nurse), physician)
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


def test_physician_requests_information(physician_client, physician, nurse, provider_a):
    case = held(escalated(provider_a, nurse), physician)
    response = act(
        physician_client,
        case,
        "request_information",
        {"items": ["m0"], "message": "Is the MRI concordant?"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.PENDING_INFORMATION


def test_physician_approves(physician_client, physician, nurse, provider_a):
    case = held(escalated(provider_a, nurse), physician)
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
    physician_client, physician, physician2, nurse, provider_a
):
    case = held(escalated(provider_a, nurse), physician)
    # The physician reads the confirmation page...
    act(physician_client, case, "deny", {"reasons": ["ESI-05"], "rationale": "No."}, confirm=False)
    # ...releases the case, and another physician claims and approves it.
    request_release(pa_request=case, actor=physician)
    determination_record(pa_request=held(case, physician2), outcome="approved", actor=physician2)
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


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("approve", {}),
        ("escalate", {"note": "Needs a physician."}),
        ("request_information", {"items": ["m0"], "message": "Send the MRI report."}),
    ],
)
def test_acting_without_a_claim_is_refused(nurse_client, provider_a, name, data):
    case = review_case(provider_a)
    events = AuditEvent.objects.filter(request_id_ref=case.pk).count()
    response = act(nurse_client, case, name, data)
    assert response.status_code == 409
    assert b"Claim the case first" in response.content
    assert b"Nothing was changed." in response.content
    case.refresh_from_db()
    assert (case.status, case.assigned_to) == (Status.NURSE_REVIEW, None)
    assert not Determination.objects.filter(request=case).exists()
    assert not InformationRequest.objects.filter(request=case).exists()
    assert AuditEvent.objects.filter(request_id_ref=case.pk).count() == events


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("deny", {"reasons": ["ESI-05"], "rationale": "Only 20 days."}),
        (
            "partial",
            {
                "approved_cpt_codes": ["64483"],
                "approved_levels": ["L5-S1"],
                "approved_units": "1",
                "reasons": ["ESI-05"],
                "rationale": "One level.",
            },
        ),
        ("peer_to_peer", {"counterpart": "Dr R", "occurred_at": "2026-01-05T10:00", "text": "x"}),
    ],
)
def test_a_physician_acts_only_on_a_case_they_hold(physician_client, nurse, provider_a, name, data):
    case = escalated(provider_a, nurse, levels=["L4-L5", "L5-S1"], units=2)
    response = act(physician_client, case, name, data)
    assert response.status_code == 409
    assert b"Claim the case first" in response.content
    case.refresh_from_db()
    assert case.status == Status.PHYSICIAN_REVIEW
    assert not Determination.objects.filter(request=case).exists()
    assert not ReviewNote.objects.filter(request=case, kind="peer_to_peer").exists()
