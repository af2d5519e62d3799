"""Tenants (spaces), the people in them, and the agents' API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from apps.spaces import preferences


class SpaceQuerySet(models.QuerySet["Space"]):
    def for_user(self, user: settings.AUTH_USER_MODEL) -> SpaceQuerySet:  # type: ignore[name-defined]
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Space(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SpaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            preferences.validate_space_settings(self.settings)
        except ValidationError as refused:
            messages = (
                [
                    f"{where}: {text}"
                    for where, texts in refused.message_dict.items()
                    for text in texts
                ]
                if hasattr(refused, "error_dict")
                else refused.messages
            )
            raise ValidationError({"settings": messages}) from None

    def setting(self, section: str, name: str) -> Any:
        """One option of `settings`, or its default (see apps.spaces.preferences)."""
        return preferences.setting(self.settings, section, name)

    def role_of(self, user: settings.AUTH_USER_MODEL) -> str | None:  # type: ignore[name-defined]
        if not user.is_authenticated:
            return None
        membership = self.memberships.filter(user=user).only("role").first()
        return membership.role if membership else None


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}


# Page views of a space's home less than this apart belong to one visit.
VISIT_GAP = timedelta(minutes=30)


class MembershipQuerySet(models.QuerySet["Membership"]):
    """A visit is a run of views of the space's home less than VISIT_GAP apart.
    "New since your last visit" counts from the end of the previous visit, so the
    figure a curator is reading does not drop to zero on the next page view."""

    def with_new_since(self, now: datetime) -> MembershipQuerySet:
        """Annotate `new_since`: the end of the last visit before the one under way
        at `now` (None before the first visit)."""
        return self.annotate(
            new_since=models.Case(
                models.When(visited_at__gte=now - VISIT_GAP, then=models.F("previous_visit_at")),
                default=models.F("visited_at"),
            )
        )

    def record_visit(self, now: datetime) -> int:
        """Note a view of the space's home at `now`; a view after a gap starts a new
        visit, and the last one becomes the previous visit."""
        return self.update(
            previous_visit_at=models.Case(
                models.When(visited_at__lt=now - VISIT_GAP, then=models.F("visited_at")),
                default=models.F("previous_visit_at"),
            ),
            visited_at=now,
        )


class Membership(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)
    # The latest view of the space's home, and the last view of the visit before it.
    visited_at = models.DateTimeField(null=True, blank=True)
    previous_visit_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.space} ({self.role})"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class Scope(models.TextChoices):
    MEMORIES_READ = "memories:read", "Read memories"
    MEMORIES_WRITE = "memories:write", "Write memories"
    ADMIN = "admin", "Administer the space"


TOKEN_PREFIX = "mw"


def _hash_secret(secret: str) -> str:
    # Tokens are 256-bit random strings, so one round of SHA-256 is enough:
    # there is no dictionary to attack, unlike with passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self, now: datetime | None = None) -> ApiTokenQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def authenticate(self, raw_token: str) -> ApiToken | None:
        """The live token matching `raw_token` (format `mw_<key id>_<secret>`), or None."""
        parts = raw_token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        token = self.active().select_related("space").filter(key_id=parts[1]).first()
        if token is None:
            return None
        if not hmac.compare_digest(token.secret_hash, _hash_secret(parts[2])):
            return None
        return token


class ApiToken(models.Model):
    """An agent's credential: scoped to one space; only a hash of the secret is stored."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "name"], name="apitoken_unique_name"),
            models.CheckConstraint(
                condition=models.Q(scopes__contained_by=Scope.values) & ~models.Q(scopes=[]),
                name="apitoken_scopes_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.space.slug})"

    @classmethod
    def issue(
        cls,
        *,
        space: Space,
        name: str,
        scopes: list[str],
        created_by: settings.AUTH_USER_MODEL | None = None,  # type: ignore[name-defined]
        expires_at: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        """Create a token; returns it with the raw token string, which is never stored."""
        unknown = sorted(set(scopes) - set(Scope.values))
        if unknown or not scopes:
            raise ValueError(
                f"unknown scopes {unknown}; choose from {', '.join(Scope.values)}"
                if unknown
                else "a token needs at least one scope"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with transaction.atomic():
            token = cls.objects.create(
                space=space,
                name=name,
                key_id=key_id,
                secret_hash=_hash_secret(secret),
                scopes=sorted(set(scopes)),
                created_by=created_by,
                expires_at=expires_at,
            )
        return token, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
