"""Reading a request's notes in the evidence checks: findings stored, conflicts block approval."""

import socket
from datetime import date

import pytest

from notes import reader
from notes.models import NoteFinding, NoteReading
from notes.services import notes_read_for_request
from reviews.models import Evaluation, PriorAuthRequest, Status
from reviews.services import evidence_checks_run, request_submit
from tests.factories import submission

# Any date after 2026-11-22 is a date the shipped examples are evaluated on (EXPECTED.md).
REVIEW_DATE = date(2026, 11, 30)
ESI_NOTE = submission()["attachments"][0]


def submit_with_note(actor, text: str, name: str = "esi-lumbar-radiculopathy", **changes):
    note = {**ESI_NOTE, "text": text} if name == "esi-lumbar-radiculopathy" else None
    data = submission(name, **changes)
    if note is not None:
        data["attachments"] = [note]
    else:
        data["attachments"][0]["text"] = text
    return request_submit(actor=actor, data=data)


def check(pa_request) -> Evaluation:
    evaluation = evidence_checks_run(pa_request=pa_request, review_date=REVIEW_DATE)
    assert evaluation is not None
    return evaluation


# --- The pipeline -------------------------------------------------------------------------------


def test_the_pipeline_is_medspacy_default_components_built_offline_once(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the notes pipeline tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)

    nlp = reader._build()

    assert nlp.pipe_names == [
        "sentencizer",
        "lamina_line_breaks",
        "medspacy_target_matcher",
        "medspacy_context",
    ]
    assert reader.pipeline() is reader.pipeline()


def test_a_line_break_ends_a_negation():
    findings = reader.note_read("ROS: denies fever\nSaddle numbness since Monday\nno night pain")

    assert [(f.concept, f.context) for f in findings] == [
        ("fever", "negated"),
        ("saddle_anesthesia", "affirmed"),
        ("night_pain", "negated"),
    ]


def test_a_long_note_is_read_in_pieces_with_offsets_into_the_whole_text():
    filler = "Pain is worse with sitting and better lying down. " * 70
    text = filler + "Denies fever. New saddle numbness since Monday. " + filler + "PT x2 visits."

    findings = reader.note_read(text)

    assert len(text) > 2 * reader.CHUNK_CHARS
    assert [(f.concept, f.context) for f in findings] == [
        ("fever", "negated"),
        ("saddle_anesthesia", "affirmed"),
        ("physical_therapy", "affirmed"),
    ]
    assert all(text[f.start : f.end] == f.text for f in findings)
    assert text[findings[1].sentence_start : findings[1].sentence_end].startswith("New saddle")
    assert findings[2].visits == 2


# --- End to end through the evidence checks -----------------------------------------------------


def test_the_shipped_example_is_approved_and_its_note_agrees(db, policies, provider_a):
    pa_request = request_submit(actor=provider_a, data=submission())

    evaluation = check(pa_request)

    assert evaluation.note_conflicts == []
    assert evaluation.recommendation == "approve"
    contexts = {
        f.concept: f.context for f in NoteFinding.objects.filter(attachment__request=pa_request)
    }
    assert contexts["fever"] == "negated"
    assert contexts["cancer_history"] == "negated"
    therapy = NoteFinding.objects.get(attachment__request=pa_request, concept="physical_therapy")
    assert (therapy.visits, therapy.duration_days) == (12, 56)


def test_new_cauda_equina_symptoms_in_the_note_block_auto_approval(db, policies, provider_a):
    # given a request attested clean (every red flag false) whose note says otherwise
    text = ESI_NOTE["text"] + " New urinary retention and saddle numbness since yesterday."
    pa_request = submit_with_note(provider_a, text)

    # when the evidence checks run
    evaluation = check(pa_request)

    # then the request goes to a physician (a red flag from any source does, never a nurse) with
    # the conflicts listed as reasons
    pa_request.refresh_from_db()
    assert pa_request.status == Status.PHYSICIAN_REVIEW
    assert evaluation.recommendation == "physician_review"
    conflicts = {c["concept"]: c for c in evaluation.note_conflicts}
    assert set(conflicts) == {"urinary_retention", "saddle_anesthesia"}
    attachment = pa_request.attachments.get()
    for conflict in conflicts.values():
        assert conflict["kind"] == "red_flag"
        assert conflict["criterion"] == "GEN-03"
        assert conflict["attachment_id"] == attachment.pk
        start, end = conflict["span"]
        assert attachment.text[start:end] == conflict["text"]
        assert "the request attests cauda equina" in conflict["explanation"]
        assert 'The note "Pain clinic follow-up"' in conflict["explanation"]
    assert conflicts["saddle_anesthesia"]["text"] == "saddle numbness"
    explained = [r["explanation"] for r in evaluation.reasons if r["criterion"] == "GEN-03"]
    assert len(explained) == 2
    assert not pa_request.determinations.exists()


def test_a_denied_saddle_anesthesia_raises_no_conflict(db, policies, provider_a):
    text = ESI_NOTE["text"] + " Denies saddle anesthesia or urinary retention."
    pa_request = submit_with_note(provider_a, text)

    evaluation = check(pa_request)

    assert evaluation.note_conflicts == []
    assert evaluation.recommendation == "approve"
    saddle = NoteFinding.objects.get(attachment__request=pa_request, concept="saddle_anesthesia")
    assert saddle.is_negated


def test_a_red_flag_left_unknown_is_a_conflict_too(db, policies, provider_a):
    red_flags = {**submission()["clinical"]["red_flags"]}
    del red_flags["cancer_history"]
    pa_request = submit_with_note(
        provider_a,
        "History of breast cancer treated in 2015. Radicular pain down the right leg.",
        clinical__red_flags=red_flags,
    )

    conflicts = notes_read_for_request(pa_request=pa_request)

    assert [(c["concept"], c["criterion"]) for c in conflicts] == [("cancer_history", "GEN-02")]
    assert "does not say whether cancer history" in conflicts[0]["explanation"]


def test_a_red_flag_the_request_attests_present_agrees(db, provider_a):
    red_flags = {**submission()["clinical"]["red_flags"], "cauda_equina": True}
    pa_request = submit_with_note(
        provider_a, "New urinary retention since yesterday.", clinical__red_flags=red_flags
    )

    assert notes_read_for_request(pa_request=pa_request) == []


@pytest.mark.parametrize(
    ("text", "concept", "attested"),
    [
        ("PT x2 visits, stopped due to cost.", "physical_therapy", "12 visits"),
        ("Stopped PT after 2 weeks because of work.", "physical_therapy", "8 weeks"),
        ("Has not tried physical therapy.", "physical_therapy", "physical therapy"),
        ("She has never taken NSAIDs.", "nsaid", "NSAID"),
    ],
)
def test_a_note_contradicting_the_attested_conservative_care_blocks_approval(
    db, policies, provider_a, text, concept, attested
):
    pa_request = submit_with_note(provider_a, f"Right S1 radicular pain since August. {text}")

    evaluation = check(pa_request)

    care = [c for c in evaluation.note_conflicts if c["kind"] == "conservative_care"]
    assert [(c["concept"], c["criterion"]) for c in care] == [(concept, "ESI-05")]
    assert attested in care[0]["explanation"]
    assert evaluation.recommendation == "nurse_review"


def test_a_note_agreeing_with_the_attested_therapy_raises_no_conflict(db, provider_a):
    pa_request = submit_with_note(
        provider_a, "Physical therapy x 12 visits over 8 weeks, failed. Plan: PT x 2 more visits."
    )

    assert notes_read_for_request(pa_request=pa_request) == []


def test_the_other_examples_notes_agree_with_their_attestations(db, provider_a):
    for name in ("rfa-lumbar-after-two-blocks", "fusion-spondylolisthesis-short-therapy"):
        pa_request = request_submit(actor=provider_a, data=submission(name))
        assert notes_read_for_request(pa_request=pa_request) == [], name


def test_a_block_relief_far_below_the_attested_relief_is_a_conflict(db, provider_a):
    text = (
        "Two diagnostic medial branch blocks at L4-L5 and L5-S1 each gave about 30 percent "
        "relief. Completed 10 weeks of physical therapy."
    )
    pa_request = submit_with_note(provider_a, text, name="rfa-lumbar-after-two-blocks")

    conflicts = notes_read_for_request(pa_request=pa_request)

    assert [(c["kind"], c["concept"], c["criterion"]) for c in conflicts] == [
        ("prior_procedure", "medial_branch_block", "FJ-06")
    ]
    assert "30 % relief" in conflicts[0]["explanation"]


# --- Idempotence --------------------------------------------------------------------------------


def test_reading_the_same_notes_again_stores_nothing_twice(db, provider_a):
    pa_request = submit_with_note(provider_a, "New saddle numbness. PT x2 visits. Denies fever.")

    first = notes_read_for_request(pa_request=pa_request)
    rows = list(NoteFinding.objects.values_list("pk", "concept", "start", "end"))
    second = notes_read_for_request(pa_request=PriorAuthRequest.objects.get(pk=pa_request.pk))

    assert second == first
    assert list(NoteFinding.objects.values_list("pk", "concept", "start", "end")) == rows
    assert NoteReading.objects.filter(attachment__request=pa_request).count() == 1


def test_new_rules_read_an_attachment_again_in_place(db, provider_a):
    pa_request = submit_with_note(provider_a, "New saddle numbness. PT x2 visits. Denies fever.")
    first = notes_read_for_request(pa_request=pa_request)
    count = NoteFinding.objects.count()
    NoteReading.objects.update(rules_version="older")

    again = notes_read_for_request(pa_request=pa_request)

    assert again == first
    assert NoteFinding.objects.count() == count
    assert set(NoteReading.objects.values_list("rules_version", flat=True)) == {
        reader_rules_version()
    }


def reader_rules_version() -> str:
    from notes.rules import RULES_VERSION

    return RULES_VERSION


def test_a_request_without_notes_has_no_conflicts(db, provider_a):
    data = submission()
    data["attachments"] = []
    pa_request = request_submit(actor=provider_a, data=data)

    assert notes_read_for_request(pa_request=pa_request) == []
    assert not NoteReading.objects.exists()
