from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.spaces.models import ApiToken
from apps.spaces.services import InvalidTokenRequest, TokenNotFound, issue_token, revoke_token


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


def test_create_token_records_the_issue_in_the_audit_trail(space):
    create_token_named_a()

    token = ApiToken.objects.get(name="a")
    assert token_events(space) == [("token.create", str(token.pk), "system:create_token")]


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


# ----------------------------------------------------------------- one write path


@pytest.fixture
def superuser_client(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(root)
    return client


def revoke_in_admin(client, *tokens: ApiToken):
    return client.post(
        reverse("admin:spaces_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk for token in tokens]},
    )


def token_events(space) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.for_space(space)
        .filter(target_type="token")
        .order_by("id")
        .values_list("action", "target_id", "actor_label")
    )


def test_it_records_who_revoked_a_token_in_the_admin(superuser_client, space, outsider_space):
    mine, _ = ApiToken.issue(space=space, name="a", scopes=["memories:read"])
    theirs, _ = ApiToken.issue(space=outsider_space, name="b", scopes=["admin"])

    response = revoke_in_admin(superuser_client, mine, theirs)

    assert response.status_code == 302
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert token_events(space) == [("token.revoke", str(mine.pk), "user:root")]
    assert token_events(outsider_space) == [("token.revoke", str(theirs.pk), "user:root")]


def test_it_writes_nothing_when_the_admin_revokes_a_revoked_token(superuser_client, space):
    token, _ = ApiToken.issue(space=space, name="a", scopes=["memories:read"])
    revoke_in_admin(superuser_client, token)
    revoked_at = ApiToken.objects.get(pk=token.pk).revoked_at

    revoke_in_admin(superuser_client, token)

    assert ApiToken.objects.get(pk=token.pk).revoked_at == revoked_at
    assert len(token_events(space)) == 1


def test_it_lets_the_admin_neither_edit_nor_delete_a_token(superuser_client, space):
    token, _ = ApiToken.issue(space=space, name="a", scopes=["memories:read"])
    change = reverse("admin:spaces_apitoken_change", args=[token.pk])
    delete = reverse("admin:spaces_apitoken_delete", args=[token.pk])

    edited = superuser_client.post(change, {"expires_at_0": "2000-01-01", "expires_at_1": "00:00"})
    deleted = superuser_client.post(delete, {"post": "yes"})

    assert (edited.status_code, deleted.status_code) == (403, 403)
    assert ApiToken.objects.get(pk=token.pk).expires_at is None
    assert token_events(space) == []


def test_the_service_issues_a_token_with_one_event(space, actor):
    token, raw = issue_token(space, actor, name=" planner ", scopes=["memories:read"])

    assert (token.name, token.created_by) == ("planner", actor.user)
    assert ApiToken.objects.authenticate(raw) == token
    assert token_events(space) == [("token.create", str(token.pk), actor.label)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "b", "scopes": ["memories:delete"]}, "scopes"),
        ({"name": "b", "scopes": []}, "scopes"),
        ({"name": "   ", "scopes": ["admin"]}, "name"),
        ({"name": "x" * 101, "scopes": ["admin"]}, "name"),
        ({"name": "a", "scopes": ["admin"]}, "name"),
        ({"name": "b", "scopes": ["admin"], "expires_at": timezone.now()}, "expires_at"),
    ],
)
def test_the_service_refuses_a_bad_token_and_changes_nothing(space, actor, fields, field):
    ApiToken.issue(space=space, name="a", scopes=["memories:read"])

    with pytest.raises(InvalidTokenRequest) as refused:
        issue_token(space, actor, **fields)

    assert list(refused.value.errors) == [field]
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["a"]
    assert token_events(space) == []


@pytest.mark.parametrize("token_id", ["foreign", 10**9, "not-a-number"])
def test_the_service_revokes_no_token_outside_the_space(space, outsider_space, actor, token_id):
    foreign, _ = ApiToken.issue(space=outsider_space, name="b", scopes=["admin"])

    with pytest.raises(TokenNotFound):
        revoke_token(space, actor, foreign.pk if token_id == "foreign" else token_id)

    assert ApiToken.objects.get(pk=foreign.pk).revoked_at is None
    assert token_events(space) == token_events(outsider_space) == []
