"""Who did something: a person, an agent's token, or a system job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from apps.spaces.models import ApiToken


class ActorType(models.TextChoices):
    USER = "user", "Person"
    TOKEN = "token", "Agent token"
    SYSTEM = "system", "System job"


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

    def as_fields(self) -> dict[str, Any]:
        """The actor columns shared by MemoryVersion and AuditEvent."""
        return {
            "actor_type": self.type,
            "actor_user": self.user,
            "actor_token": self.token,
            "actor_label": self.label,
        }
