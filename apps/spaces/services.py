"""Space-level workflows: changing a space's name, description and settings, purging a
space, and issuing and revoking its agent tokens.

The API, the dashboard, the admin and `manage.py create_token` all change spaces and
tokens through these functions, which write the change and its audit event together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.services import record_event
from apps.jobs.models import Job
from apps.spaces.models import ApiToken, Space
from apps.spaces.preferences import SCHEMA, setting, validate_space_settings

logger = logging.getLogger(__name__)


# What update_space may change. The slug is the space's address in every URL and
# token: only the Django admin changes it.
EDITABLE_FIELDS = ("name", "description", "settings")
ADMIN_EDITABLE_FIELDS = ("slug", *EDITABLE_FIELDS)


class InvalidSpaceChange(ValueError):
    """A change update_space refuses; `errors` maps each refused field ("name") or
    settings option ("hygiene.secret") to what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(
            "; ".join(f"{where}: {' '.join(texts)}" for where, texts in errors.items())
        )
        self.errors = errors


@dataclass(frozen=True)
class SpaceUpdate:
    """What update_space did: the saved space, and the scan it started (a changed
    hygiene policy re-flags what is already stored), if any."""

    space: Space
    scan: Job | None


def update_space(
    space: Space,
    actor: Actor,
    changes: Mapping[str, Any],
    *,
    fields: tuple[str, ...] = EDITABLE_FIELDS,
) -> SpaceUpdate:
    """Set `changes` (of `fields`) on the space, validated by the model's rules, and
    write `space.update`. A change to the hygiene policy starts a scan job once the
    transaction commits. Raises InvalidSpaceChange, and stores nothing, on bad input."""
    # The hygiene app imports the memories services, which import this app's models
    # and, through the hygiene policy, a partly loaded hygiene module: read late.
    from apps.hygiene.scans import policy_changed, start_scan

    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise InvalidSpaceChange({name: ["cannot be changed here"] for name in unknown})
    with transaction.atomic():
        # Locked so that two saves cannot both read the old policy and both miss (or
        # both start) the scan the change needs.
        locked = Space.objects.select_for_update().get(pk=space.pk)
        settings_before = locked.settings
        for name, value in changes.items():
            setattr(locked, name, value)
        _validate(locked, changes)
        locked.save(update_fields=list(changes) or None)
        record_event(
            space,
            actor,
            "space.update",
            target_type="space",
            target_id=locked.slug,
            summary=_change_summary(settings_before, locked, changes),
        )
        scan = (
            start_scan(locked, "policy change") if policy_changed(settings_before, locked) else None
        )
    return SpaceUpdate(locked, scan)


def _validate(space: Space, changes: Mapping[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    unchanged = [f.name for f in Space._meta.fields if f.name not in changes]
    try:
        space.clean_fields(exclude=unchanged)
        if "slug" in changes:
            space.validate_unique(exclude=unchanged)
    except ValidationError as refused:
        errors.update(refused.message_dict)
    # Only settings being written are checked: a value stored before the schema is
    # read as its default, and must not block a change of name.
    if "settings" in changes and "settings" not in errors:
        try:
            validate_space_settings(space.settings)
        except ValidationError as refused:
            errors.update(
                refused.message_dict
                if hasattr(refused, "error_dict")
                else {"settings": refused.messages}
            )
    if errors:
        raise InvalidSpaceChange(errors)


def _change_summary(before: Any, space: Space, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The names of the fields written and, for settings, each option's old and new
    value: choices from the schema, never free text."""
    summary: dict[str, Any] = {"changed": sorted(changes)}
    if "settings" in changes:
        moved = {
            f"{section}.{name}": {
                "from": setting(before, section, name),
                "to": space.setting(section, name),
            }
            for section, options in SCHEMA.items()
            for name in options
            if _as_compared(setting(before, section, name))
            != _as_compared(space.setting(section, name))
        }
        if moved:
            summary["settings"] = moved
    return summary


def _as_compared(value: Any) -> Any:
    # A list of choices is a set: reordering it changes nothing.
    return frozenset(value) if isinstance(value, list) else value


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
