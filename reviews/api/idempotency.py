"""Idempotency-Key on every provider POST: a retry gets the first answer, never a second row.

A key is scoped to (user, endpoint). The record is claimed *before* the service runs, in the same
transaction, with one `INSERT ... ON CONFLICT DO NOTHING`: the unique constraint does the locking.
A concurrent retry with the same key blocks on that insert until the first transaction ends; if
the first committed, the insert does nothing and the retry replays the committed record; if it
rolled back, the retry's insert goes ahead and it runs itself. No savepoint and no read before the
claim: the common case (a new key) costs the claim and the final UPDATE with the answer. Only
successful answers are kept: a refused body leaves no record, so the provider can correct it and
retry under the same key.
"""

import functools
import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.response import Response

from reviews.audit import canonical
from reviews.errors import Conflict, ValidationFailed
from reviews.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"


def _key(request) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise ValidationFailed(
            f"An {HEADER} header is required on every POST.",
            fields={HEADER: ["Required: any string up to 255 characters, unique per action."]},
            code="idempotency_key_required",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"The {HEADER} header is longer than {MAX_KEY_LENGTH} characters.",
            fields={HEADER: [f"At most {MAX_KEY_LENGTH} characters."]},
        )
    return key


def _digest(data) -> str:
    # The parsed body, canonically encoded: a retry that only re-orders keys or changes
    # whitespace is the same request.
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.body_sha256 != digest:
        raise Conflict(
            f"This {HEADER} was already used with a different body; use a new key for a new "
            "request.",
            code="idempotency_key_reused",
        )
    return Response(
        record.response_body, status=record.response_status, headers={REPLAY_HEADER: "true"}
    )


def _find(user, scope: str, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).first()


def _claim(user, scope: str, key: str, digest: str) -> IdempotencyRecord | None:
    """Insert the record for (user, scope, key), or None when one is already committed."""
    record = IdempotencyRecord(
        user=user,
        scope=scope,
        key=key,
        body_sha256=digest,
        response_status=0,
        response_body={},
        created_at=timezone.now(),
    )
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, scope, key, body_sha256, response_status, "  # noqa: S608
            "response_body, created_at) VALUES (%s, %s, %s, %s, 0, %s, %s) "
            "ON CONFLICT (user_id, scope, key) DO NOTHING RETURNING id",
            [
                user.pk,
                scope,
                key,
                digest,
                "{}",
                connection.ops.adapt_datetimefield_value(record.created_at),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    record._state.adding = False
    return record


def idempotent_response(*, request, scope: str, handler) -> Response:
    """Run handler() at most once per (user, scope, key); replay its answer for a retry."""
    key = _key(request)
    digest = _digest(request.data)
    user = request.user
    with transaction.atomic():
        record = _claim(user, scope, key, digest)
        if record is not None:
            response = handler()
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            # Stored as the JSON the client received, so a replay is byte-for-byte the same data.
            body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                response_status=response.status_code, response_body=body
            )
            return response
        record = _find(user, scope, key)
    if record is None:
        # The key's record vanished between the claim and the read (it cannot while records
        # are kept): the client should retry.
        raise Conflict(
            f"A request with this {HEADER} is still in progress; retry shortly.",
            code="idempotency_key_in_progress",
        )
    return _replay(record, digest)


def idempotent(scope: str):
    """Decorate an APIView.post: the scope names the endpoint, with the URL's kwargs appended."""

    def decorator(method):
        @functools.wraps(method)
        def wrapper(view, request, *args, **kwargs):
            full_scope = ":".join([scope, *(f"{k}={v}" for k, v in sorted(kwargs.items()))])
            return idempotent_response(
                request=request,
                scope=full_scope,
                handler=lambda: method(view, request, *args, **kwargs),
            )

        return wrapper

    return decorator
