"""The note reader's work per request is bounded and kept off the request's lock and queue.

- notes/limits.py: a size per note and per submission (settings NOTE_MAX_CHARS and
  NOTE_MAX_SUBMISSION_CHARS), the validator the intake contract's attachment lists name.
- Notes are read outside the request's row lock, each attachment in its own short transaction.
- Reading is its own task (reviews.tasks.read_notes), on a queue of its own when
  CELERY_NOTES_QUEUE is set: a request with long notes never holds up another's checks.
"""

import threading

import pytest
from django.db import connection, transaction

from notes.limits import NoteSizeLimits, note_limits
from notes.models import NoteFinding, NoteReading
from notes.services import notes_read_pending, notes_unread
from reviews.api.errors import _flatten
from reviews.contract import RequestCreateInput
from reviews.models import Evaluation, PriorAuthRequest, Status
from reviews.services import evidence_checks_run, request_submit
from tests.conftest import Worker, wait_for
from tests.factories import submission

NOTE = submission()["attachments"][0]


def note_of(length: int) -> dict:
    """The example's clinical note repeated to exactly `length` characters."""
    text = (NOTE["text"] + "\n") * (length // (len(NOTE["text"]) + 1) + 1)
    return {**NOTE, "text": text[:length]}


class LimitedRequest(RequestCreateInput):
    """The intake contract, which names the hook (NoteSizeLimits) itself."""


def errors_of(attachments) -> dict[str, list[str]]:
    serializer = LimitedRequest(data=submission(attachments=attachments))
    assert not serializer.is_valid()
    return _flatten(serializer.errors)


def test_the_limits_are_settings(settings):
    settings.NOTE_MAX_CHARS = 1234
    settings.NOTE_MAX_SUBMISSION_CHARS = 5678
    assert note_limits() == {"per_note": 1234, "per_submission": 5678}


def test_notes_at_the_limits_are_accepted(settings):
    per_note = settings.NOTE_MAX_CHARS
    count = settings.NOTE_MAX_SUBMISSION_CHARS // per_note
    attachments = [note_of(per_note) for _ in range(count)]

    serializer = LimitedRequest(data=submission(attachments=attachments))

    assert serializer.is_valid(), _flatten(serializer.errors)


def test_a_note_over_the_limit_is_named_with_the_limit(settings):
    too_long = settings.NOTE_MAX_CHARS + 1

    errors = errors_of([note_of(100), note_of(too_long)])

    assert list(errors) == ["attachments[1].text"]
    assert f"at most {settings.NOTE_MAX_CHARS:,} characters" in errors["attachments[1].text"][0]
    assert f"holds {too_long:,}" in errors["attachments[1].text"][0]


def test_notes_over_the_submission_limit_together_are_refused(settings):
    settings.NOTE_MAX_SUBMISSION_CHARS = 3 * settings.NOTE_MAX_CHARS - 1
    attachments = [note_of(settings.NOTE_MAX_CHARS) for _ in range(3)]

    errors = errors_of(attachments)

    assert list(errors) == ["attachments"]
    assert (
        f"at most {settings.NOTE_MAX_SUBMISSION_CHARS:,} characters together"
        in (errors["attachments"][0])
    )


# --- Reading outside the lock -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_notes_are_read_while_another_session_holds_the_request_row(provider_a, policies):
    # given a request with two notes, its row locked by another session (a provider withdrawing)
    pa_request = request_submit(
        actor=provider_a, data=submission(attachments=[note_of(3000), note_of(2000)])
    )
    locked = threading.Event()
    release = threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                PriorAuthRequest.objects.select_for_update().get(pk=pa_request.pk)
                locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(timeout=10)
    try:
        # when the notes are read, with a lock wait turned into an error
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        read = notes_read_pending(pa_request=pa_request)
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")

    # then both were read and their findings stored without waiting for the row
    assert read == 2
    assert NoteReading.objects.filter(attachment__request=pa_request).count() == 2
    assert NoteFinding.objects.filter(attachment__request=pa_request).exists()
    assert notes_unread(pa_request=pa_request) == []


@pytest.mark.django_db
def test_the_checks_read_only_what_was_not_read(provider_a, policies):
    pa_request = request_submit(actor=provider_a, data=submission())
    assert notes_read_pending(pa_request=pa_request) == 1
    first = dict(
        NoteReading.objects.filter(attachment__request=pa_request).values_list("pk", "read_at")
    )

    evaluation = evidence_checks_run(pa_request=pa_request)

    assert evaluation is not None
    assert notes_read_pending(pa_request=pa_request) == 0
    again = dict(
        NoteReading.objects.filter(attachment__request=pa_request).values_list("pk", "read_at")
    )
    assert again == first  # read once, before the checks


# --- Reading is its own task --------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_long_notes_do_not_hold_up_another_providers_checks(
    start_worker, worker_queue, settings, monkeypatch, policies, provider_a, provider_b
):
    # given note reading on a queue of its own, and only the checks' worker running
    notes_queue = f"{worker_queue}-notes"
    settings.CELERY_NOTES_QUEUE = notes_queue
    monkeypatch.setenv("CELERY_NOTES_QUEUE", notes_queue)
    start_worker()
    per_note = settings.NOTE_MAX_CHARS
    heavy_notes = [note_of(per_note) for _ in range(settings.NOTE_MAX_SUBMISSION_CHARS // per_note)]

    # when one provider submits the largest allowed notes and another a request without notes
    heavy = request_submit(actor=provider_a, data=submission(attachments=heavy_notes))
    light = request_submit(actor=provider_b, data=submission(attachments=[]))

    # then the other provider's request is checked while the notes wait for their reader
    wait_for(lambda: Evaluation.objects.filter(request=light).exists(), timeout=90)
    heavy.refresh_from_db()
    assert heavy.status == Status.EVALUATING
    assert not heavy.evaluations.exists()
    assert len(notes_unread(pa_request=heavy)) == len(heavy_notes)

    # and once a notes worker runs, the heavy request is read, then checked, once
    reader = Worker(notes_queue, connection.settings_dict["NAME"], concurrency=1)
    try:
        wait_for(lambda: Evaluation.objects.filter(request=heavy).exists(), timeout=120)
    finally:
        reader.stop()
    assert notes_unread(pa_request=heavy) == []
    assert heavy.evaluations.count() == 1
    assert NoteReading.objects.filter(attachment__request=heavy).count() == len(heavy_notes)


def test_the_contract_names_the_hook_for_new_requests_answers_and_appeals():
    from reviews.api.appeals import RequestAppealApi
    from reviews.contract import InformationAnswerInput

    for serializer in (RequestCreateInput, InformationAnswerInput, RequestAppealApi.Input):
        assert issubclass(serializer, NoteSizeLimits)


def test_the_api_refuses_an_oversized_note_and_stores_nothing(settings, api_a, policies):
    from reviews.models import IdempotencyRecord
    from tests.conftest import post_json

    settings.NOTE_MAX_CHARS = 1_000
    body = submission(attachments=[NOTE, {**NOTE, "text": "x" * 1_001}])
    response = post_json(api_a, "/api/v1/requests/", body)
    assert response.status_code == 400, response.content
    assert "attachments[1].text" in response.json()["fields"]
    assert PriorAuthRequest.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    body = submission(attachments=[NOTE, {**NOTE, "text": "x" * 1_000}])
    assert post_json(api_a, "/api/v1/requests/", body).status_code == 201
