"""Who did something: a person, an agent's token, or a system job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from apps.spaces.models import ApiToken


class ActorType(models.TextChoices):
    USER = "user", "Person"
    TOKEN = "token", "Agent token"
    SYSTEM = "system", "System job"


def actor_foreign_keys() -> tuple[models.ForeignKey[Any, Any], models.ForeignKey[Any, Any]]:
    """A history row's actor user and token, indexed by actor_indexes() alone."""
    options: dict[str, Any] = {
        "null": True,
        "blank": True,
        "on_delete": models.SET_NULL,
        "related_name": "+",
        "db_index": False,
    }
    return (
        models.ForeignKey(settings.AUTH_USER_MODEL, **options),
        models.ForeignKey("spaces.ApiToken", **options),
    )


def actor_indexes(prefix: str) -> list[models.Index]:
    """Indexes of a history table's actor user and token over the rows that have one.
    A system job's rows have neither and an agent's no user, so a full index took two
    entries a row for nothing; deleting a user or a token looks up non-null ones only."""
    return [
        models.Index(
            fields=[field],
            name=f"{prefix}_{field}",
            condition=models.Q(**{f"{field}__isnull": False}),
        )
        for field in ("actor_user", "actor_token")
    ]


@dataclass(frozen=True)
class Actor:
    type: str
    label: str
    user: Any = None
    token: ApiToken | None = None

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(type=ActorType.USER, label=f"user:{user.get_username()}", user=user)

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        return cls(type=ActorType.TOKEN, label=f"token:{token.name}", token=token)

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(type=ActorType.SYSTEM, label=f"system:{job}")

    def to_payload(self) -> dict[str, Any]:
        """A JSON-safe form for passing the actor to a Celery task."""
        return {
            "type": self.type,
            "label": self.label,
            "user_id": getattr(self.user, "pk", None),
            "token_id": getattr(self.token, "pk", None),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Actor:
        from django.contrib.auth import get_user_model

        from apps.spaces.models import ApiToken

        user_id, token_id = payload.get("user_id"), payload.get("token_id")
        return cls(
            type=payload["type"],
            label=payload["label"],
            user=get_user_model().objects.filter(pk=user_id).first() if user_id else None,
            token=ApiToken.objects.filter(pk=token_id).first() if token_id else None,
        )

    def as_fields(self) -> dict[str, Any]:
        """The actor columns shared by MemoryVersion and AuditEvent."""
        return {
            "actor_type": self.type,
            "actor_user": self.user,
            "actor_token": self.token,
            "actor_label": self.label,
        }
