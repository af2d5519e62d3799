from django.contrib import admin

from apps.jobs.models import Job
from apps.memories.admin import ReadOnlyAdmin


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["kind", "space", "status", "done", "total", "created_at", "finished_at"]
    list_filter = ["kind", "status", "space"]
