"""Admin for the memory model.

Memories are edited through the domain layer (so each save writes a version and an
audit event); episodes, versions, links and mentions are history and read-only.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.audit.actors import Actor
from apps.core.payload import StorableJSONFormField
from apps.memories import services
from apps.memories.models import Entity, Episode, Link, Memory, MemoryVersion, Mention
from apps.memories.services.entities import save_entity


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Every field read-only, so the admin builds no form field (and no
        # unscoped choice queryset) for the foreign keys.
        return [field.name for field in self.model._meta.get_fields() if field.concrete]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MemoryAdminForm(forms.ModelForm):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Memory
        fields = ["space", *services.EDITABLE_FIELDS]
        field_classes = {"metadata": StorableJSONFormField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version

    def validate_unique(self) -> None:
        # Memory has no unique fields besides its random primary key, and Django's
        # check would go through the unscoped default manager.
        return

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        expected = cleaned.get("expected_version")
        if self.instance.pk and expected is not None:
            current = (
                Memory._base_manager.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            if current != expected:
                raise forms.ValidationError(
                    f"Someone saved this memory (now version {current}) after you opened it. "
                    "Reload the page to see their change."
                )
        return cleaned


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    form = MemoryAdminForm
    list_display = [
        "short_content",
        "space",
        "kind",
        "status",
        "subject",
        "version",
        "pinned",
        "created_at",
    ]
    list_filter = ["space", "kind", "status", "pinned"]
    search_fields = ["content", "subject", "agent", "session"]
    readonly_fields = [
        "status",
        "version",
        "embedding_model",
        "content_hash",
        "access_count",
        "last_accessed_at",
        "strength",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("embedding")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.readonly_fields, "space"] if obj else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting is a lifecycle action with a reason (soft delete or purge), not an admin click.
        return False

    @admin.display(description="content")
    def short_content(self, obj: Memory) -> str:
        return obj.content[:90]

    def save_model(self, request: HttpRequest, obj: Memory, form: Any, change: bool) -> None:
        actor = Actor.for_user(request.user)
        fields = {
            name: form.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in form.cleaned_data
        }
        if change:
            saved = services.update_memory(
                obj.space,
                actor,
                obj.pk,
                expected_version=form.cleaned_data.get("expected_version"),
                reason="edited in the admin",
                **fields,
            )
        else:
            saved = services.create_memory(
                form.cleaned_data["space"], actor, reason="created in the admin", **fields
            )
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return  # the form has no related fields; the domain layer saved everything


@admin.register(MemoryVersion)
class MemoryVersionAdmin(ReadOnlyAdmin):
    list_display = ["memory", "version", "action", "actor_label", "created_at"]
    list_filter = ["space", "action", "actor_type"]
    search_fields = ["memory__id", "actor_label", "reason"]


@admin.register(Episode)
class EpisodeAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "space", "session", "speaker", "role", "short_content"]
    list_filter = ["space", "source", "role"]
    search_fields = ["content", "session", "speaker"]

    @admin.display(description="content")
    def short_content(self, obj: Episode) -> str:
        return obj.content[:90]


@admin.register(Link)
class LinkAdmin(ReadOnlyAdmin):
    list_display = ["source", "type", "target", "weight", "created_by", "created_at"]
    list_filter = ["space", "type"]


@admin.register(Mention)
class MentionAdmin(ReadOnlyAdmin):
    list_display = ["entity", "memory", "start", "end", "created_at"]
    list_filter = ["space"]


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "space", "created_at"]
    list_filter = ["space", "kind"]
    search_fields = ["name", "normalized_name", "aliases"]
    readonly_fields = ["normalized_name", "created_at"]

    def save_model(self, request: HttpRequest, obj: Entity, form: Any, change: bool) -> None:
        save_entity(Actor.for_user(request.user), obj, form.changed_data)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
