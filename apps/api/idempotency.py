"""Idempotency-Key: a retried request returns the first answer and stores nothing twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.access import Caller
from apps.api.errors import ApiError
from apps.api.models import IdempotentRequest
from apps.audit.redaction import holding_any, scrubbed
from apps.spaces.models import Space

MAX_KEY_LENGTH = 200


def _client(caller: Caller) -> str:
    if caller.actor.token is not None:
        return f"token:{caller.actor.token.pk}"
    return f"user:{caller.actor.user.pk}"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def run_once(request: Request, caller: Caller, handler: Callable[[], Response]) -> Response:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handler()
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            400,
            "invalid_request",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
            {"Idempotency-Key": key[:MAX_KEY_LENGTH]},
        )
    client = _client(caller)
    fingerprint = _fingerprint(request)
    cutoff = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    with transaction.atomic():
        # Concurrent retries with one key wait here for the first to finish.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"idempotency:{caller.space.pk}:{client}:{key}"],
            )
        stored = IdempotentRequest.objects.filter(space=caller.space, client=client, key=key)
        stored.filter(created_at__lt=cutoff).delete()
        first = stored.first()
        if first is not None:
            if first.fingerprint != fingerprint:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                    {"Idempotency-Key": key},
                )
            replay = Response(first.response_body, status=first.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = handler()
        if 200 <= response.status_code < 300:
            IdempotentRequest.objects.create(
                space=caller.space,
                client=client,
                key=key,
                fingerprint=fingerprint,
                status_code=response.status_code,
                response_body=json.loads(JSONRenderer().render(response.data)),
            )
    return response


def forget_responses_showing(space: Space, ids: Iterable[object]) -> int:
    """Delete the stored answers that show any of these rows (a memory being purged,
    the episodes it came from): they hold its text. A retry of such a request runs
    again instead of replaying it. Returns how many went."""
    shows = Q()
    for pk in ids:
        shows |= Q(response_body__icontains=str(pk))
    if not shows:
        return 0
    deleted, _ = IdempotentRequest.objects.filter(shows, space=space).delete()
    return deleted


def scrub_responses(space: Space, replacements: Mapping[str, str]) -> int:
    """Replace redacted texts in the stored answers of the space, which keep replaying:
    a retry gets the answer it got, without the texts. Returns how many changed."""
    changed = []
    stored = IdempotentRequest.objects.filter(space=space)
    for answer in stored.filter(holding_any(replacements, json_fields=["response_body"])):
        # A stored answer quotes memories whole, metadata keys too.
        body = scrubbed(answer.response_body, replacements, keys=True)
        if body != answer.response_body:
            answer.response_body = body
            changed.append(answer)
    IdempotentRequest.objects.bulk_update(changed, ["response_body"], batch_size=500)
    return len(changed)
