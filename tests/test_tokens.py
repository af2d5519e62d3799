from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.spaces.models import ApiToken


def test_create_token_prints_the_token_once_and_stores_only_a_hash(space):
    out, err = StringIO(), StringIO()
    call_command(
        "create_token",
        "--space",
        "home",
        "--name",
        "agent-1",
        "--scopes",
        "memories:read",
        "memories:write",
        stdout=out,
        stderr=err,
    )

    raw = out.getvalue().strip()
    token = ApiToken.objects.get(name="agent-1")
    assert raw.startswith(f"mw_{token.key_id}_")
    assert token.scopes == ["memories:read", "memories:write"]
    secret = raw.split("_", 2)[2]
    assert secret not in token.secret_hash
    assert "cannot be shown again" in err.getvalue()
    assert ApiToken.objects.authenticate(raw) == token


def test_create_token_accepts_comma_separated_scopes(space):
    call_command(
        "create_token",
        "--space",
        "home",
        "--name",
        "a",
        "--scopes",
        "memories:read,admin",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert ApiToken.objects.get(name="a").scopes == ["admin", "memories:read"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "nowhere", "--name", "a", "--scopes", "admin"], "no space"),
        (["--space", "home", "--name", "a", "--scopes", "memories:delete"], "unknown scopes"),
        (
            ["--space", "home", "--name", "a", "--scopes", "admin", "--expires-in-days", "0"],
            "must be positive",
        ),
    ],
)
def test_create_token_rejects_bad_input(space, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_token", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


def create_token_named_a() -> None:
    call_command(
        "create_token",
        "--space",
        "home",
        "--name",
        "a",
        "--scopes",
        "admin",
        stdout=StringIO(),
        stderr=StringIO(),
    )


def test_create_token_refuses_a_duplicate_name(space):
    create_token_named_a()
    with pytest.raises(CommandError, match="already has a token"):
        create_token_named_a()
    assert ApiToken.objects.count() == 1


def test_it_does_not_authenticate_wrong_revoked_or_expired_tokens(space):
    token, raw = ApiToken.issue(space=space, name="a", scopes=["memories:read"])
    assert ApiToken.objects.authenticate(raw + "x") is None
    assert ApiToken.objects.authenticate("mw_" + token.key_id) is None
    assert ApiToken.objects.authenticate("Bearer whatever") is None

    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save()
    assert ApiToken.objects.authenticate(raw) is None

    token.expires_at = None
    token.revoked_at = timezone.now()
    token.save()
    assert ApiToken.objects.authenticate(raw) is None


def test_admin_scope_implies_the_others(space):
    token, _ = ApiToken.issue(space=space, name="a", scopes=["admin"])
    reader, _ = ApiToken.issue(space=space, name="b", scopes=["memories:read"])
    assert token.has_scope("memories:write")
    assert not reader.has_scope("memories:write")
