"""Space-level workflows: purging a space, and issuing and revoking its agent tokens.

The API, the dashboard, the admin and `manage.py create_token` all change tokens
through these functions, which write the token and its audit event together.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.spaces.models import ApiToken, Space

logger = logging.getLogger(__name__)


@transaction.atomic
def purge_space(space: Space, actor: Actor, *, reason: str) -> None:
    """Delete a space with everything in it, its audit trail included.

    Guaranteed deletion of a tenant's data; what remains is this log line.
    """
    if not reason.strip():
        raise ValueError("purging a space needs a reason")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('memoryweb.purging_space', %s, true)", [str(space.pk)])
    logger.warning("space %s (%s) purged by %s: %s", space.slug, space.pk, actor.label, reason)
    space.delete()


class InvalidTokenRequest(ValueError):
    """A token that cannot be issued; `errors` names each bad field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in errors.items()))
        self.errors = errors


class TokenNotFound(LookupError):
    """No token with that id in the space (a token of another space included)."""


DUPLICATE_NAME = "This space already has a token with this name."


def issue_token(
    space: Space,
    actor: Actor,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token of `space`, created by `actor`'s person if any, with its raw string,
    which is never stored: the caller shows it once. Writes `token.create`."""
    name = name.strip()
    max_length = ApiToken._meta.get_field("name").max_length
    if not name:
        raise InvalidTokenRequest({"name": "Give the token a name."})
    if max_length is not None and len(name) > max_length:
        raise InvalidTokenRequest(
            {"name": f"Ensure this field has at most {max_length} characters."}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidTokenRequest({"expires_at": "must be in the future"})
    if ApiToken.objects.filter(space=space, name=name).exists():
        raise InvalidTokenRequest({"name": DUPLICATE_NAME})
    try:
        with transaction.atomic():
            try:
                token, raw = ApiToken.issue(
                    space=space,
                    name=name,
                    scopes=scopes,
                    created_by=actor.user,
                    expires_at=expires_at,
                )
            except ValueError as refused:
                raise InvalidTokenRequest({"scopes": str(refused)}) from None
            record_event(
                space,
                actor,
                "token.create",
                target_type="token",
                target_id=token.pk,
                summary={"name": token.name, "scopes": token.scopes},
            )
    except IntegrityError:
        # Another request took the name between the check and the insert.
        raise InvalidTokenRequest({"name": DUPLICATE_NAME}) from None
    return token, raw


@transaction.atomic
def revoke_token(space: Space, actor: Actor, token_id: int | str) -> tuple[ApiToken, bool]:
    """Revoke the token at once; returns it, and whether this call revoked it (False
    if it already was, and then nothing is written). Writes `token.revoke`."""
    try:
        token = ApiToken.objects.select_for_update().filter(space=space, pk=token_id).first()
    except (ValidationError, ValueError, TypeError):
        token = None
    if token is None:
        raise TokenNotFound(f"no token {token_id} in this space")
    if token.revoked_at is not None:
        return token, False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event(
        space,
        actor,
        "token.revoke",
        target_type="token",
        target_id=token.pk,
        summary={"name": token.name},
    )
    return token, True
