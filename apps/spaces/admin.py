from collections.abc import Sequence
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.audit.actors import Actor
from apps.core.payload import StorableJSONFormField
from apps.spaces.models import ApiToken, Membership, Space
from apps.spaces.services import (
    ADMIN_EDITABLE_FIELDS,
    purge_space,
    revoke_token,
    update_space,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    # update_space changes what a space says of itself, not when it began.
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]
    formfield_overrides = {models.JSONField: {"form_class": StorableJSONFormField}}

    def get_deleted_objects(
        self, objs: Sequence[Space] | QuerySet[Space], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        _listed, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if request.user.is_superuser:
            # Versions and audit events are read-only one by one, so the admin would refuse
            # (403) any space with history; purge_space may remove them with their space.
            perms_needed = set()
        # The counts say what goes; a line per row would list every memory of the space.
        return [str(space) for space in objs], counts, perms_needed, protected

    def save_model(self, request: HttpRequest, obj: Space, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # A change goes through the same service as the API and the dashboard: audited,
        # and a changed hygiene policy starts a scan. The form has validated it already.
        changes = {
            name: getattr(obj, name) for name in form.changed_data if name in ADMIN_EDITABLE_FIELDS
        }
        if changes:
            update_space(obj, Actor.for_user(request.user), changes, fields=ADMIN_EDITABLE_FIELDS)

    def delete_model(self, request: HttpRequest, obj: Space) -> None:
        purge_space(obj, Actor.for_user(request.user), reason="deleted in the Django admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Space]) -> None:
        for space in queryset:
            self.delete_model(request, space)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "space", "role", "created_at"]
    list_filter = ["role", "space"]
    autocomplete_fields = ["user", "space"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with `manage.py create_token` or the dashboard (the secret is
    shown once); here they can be inspected and revoked. Editing and deleting are
    refused: every change to a token goes through apps.spaces.services, which writes
    its audit event, and a revoked token stays for the events that name it."""

    list_display = [
        "name",
        "space",
        "key_id",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["space"]
    search_fields = ["name", "key_id"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("spaces.change_apitoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = Actor.for_user(request.user)
        count = 0
        for token in queryset.select_related("space"):
            _, revoked = revoke_token(token.space, actor, token.pk)
            count += revoked
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
