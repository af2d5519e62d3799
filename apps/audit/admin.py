from django.contrib import admin

from apps.audit.models import AuditEvent
from apps.memories.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "space",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "request_id",
    ]
    list_filter = ["space", "action", "actor_type", "target_type"]
    search_fields = ["actor_label", "target_id", "request_id"]
    date_hierarchy = "created_at"
