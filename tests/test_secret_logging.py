"""Secrets never reach the logs or the audit trail: raw tokens (used, refused or just
issued) and passwords appear in no log record and no stored event."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.spaces.models import ApiToken, Membership, Role, Scope

PASSWORD = "correct horse battery staple 42"


def everything_logged(caplog: Any) -> str:
    return "\n".join(
        f"{record.getMessage()} {record.args!r} {getattr(record, 'request', '')!r}"
        for record in caplog.records
    )


def test_it_logs_no_token_and_no_password(caplog, space):
    caplog.set_level(logging.DEBUG)
    token, raw = ApiToken.issue(
        space=space, name="agent", scopes=[Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
    )
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert agent.post("/api/v1/memories", {"content": "Hello."}, format="json").status_code == 201
    revoked_raw = raw[:-4] + "abcd"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {revoked_raw}")
    assert wrong.get("/api/v1/memories").status_code == 401

    admin = get_user_model().objects.create_user("root", password=PASSWORD)
    Membership.objects.create(space=space, user=admin, role=Role.ADMIN)
    browser = Client()
    assert (
        browser.post("/login/", {"username": "root", "password": "wrong-pass-9911"}).status_code
        == 200
    )
    assert browser.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    issued = browser.post(
        f"/s/{space.slug}/tokens/", {"name": "second", "scopes": [Scope.MEMORIES_READ]}
    )
    assert issued.status_code == 200
    shown = re.search(r'id="raw-token"[^>]*value="([^"]+)"', issued.content.decode())
    assert shown is not None  # shown once, to the person who made it

    logged = everything_logged(caplog)
    assert caplog.records  # the requests were logged at all
    trail = " ".join(
        f"{e.summary} {e.reason} {e.actor_label}" for e in AuditEvent.objects.for_space(space)
    )
    for secret in (raw, revoked_raw, shown[1], PASSWORD, "wrong-pass-9911"):
        assert secret not in logged
        assert secret not in trail
    # Only a hash of each secret is stored.
    assert not ApiToken.objects.filter(secret_hash__in=[raw, shown[1]]).exists()
    assert token.secret_hash and token.secret_hash not in raw
