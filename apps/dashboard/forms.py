"""The dashboard's forms: browsing filters (GET), bulk actions and memory edits (POST)."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.memories.models import Kind, Status
from apps.retrieval.search import MODES, Filters

BULK_ACTIONS = {
    "archive": "Archive",
    "restore": "Restore",
    "delete": "Delete",
    "tag": "Add tag",
    "untag": "Remove tag",
    "reembed": "Re-embed",
}


class BrowseForm(forms.Form):
    """The memory browser's state; it lives in the URL so a view can be shared."""

    q = forms.CharField(
        required=False,
        max_length=500,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search memories"}),
    )
    mode = forms.ChoiceField(
        # Hybrid first: it is what an empty choice means.
        choices=[(m, m.capitalize()) for m in sorted(MODES, key=lambda m: m != "hybrid")],
        required=False,
        label="Mode",
    )
    kind = forms.ChoiceField(choices=[("", "Any kind"), *Kind.choices], required=False)
    status = forms.ChoiceField(
        choices=[
            ("", "Active"),
            *[(value, label) for value, label in Status.choices if value != "active"],
            ("any", "Any status"),
        ],
        required=False,
    )
    subject = forms.CharField(required=False, max_length=200)
    agent = forms.CharField(required=False, max_length=200)
    session = forms.CharField(required=False, max_length=200)
    tag = forms.CharField(
        required=False,
        max_length=500,
        label="Tags",
        widget=forms.TextInput(attrs={"placeholder": "any of: tag, tag"}),
    )
    after = forms.DateField(
        required=False, label="Occurred after", widget=forms.DateInput(attrs={"type": "date"})
    )
    before = forms.DateField(
        required=False, label="Occurred before", widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> Filters:
        data: dict[str, Any] = self.cleaned_data
        status = data.get("status") or ""
        return Filters(
            subject=data.get("subject") or None,
            agent=data.get("agent") or None,
            session=data.get("session") or None,
            kinds=[data["kind"]] if data.get("kind") else [],
            tags=[t.strip() for t in (data.get("tag") or "").split(",") if t.strip()],
            statuses=list(Status.values) if status == "any" else ([status] if status else []),
            occurred_after=_midnight(data.get("after")),
            occurred_before=_midnight(data.get("before")),
        )

    def query(self) -> str:
        return str(self.cleaned_data.get("q") or "").strip()


def _midnight(day: Any) -> Any:
    from datetime import datetime, time

    from django.utils import timezone

    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=list(BULK_ACTIONS.items()))
    # Not "tag": that name is the browser's tag filter, posted alongside.
    bulk_tag = forms.CharField(required=False, max_length=64)
    all_matching = forms.BooleanField(required=False)
    confirmed = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in ("tag", "untag") and not (data.get("bulk_tag") or "").strip():
            self.add_error("bulk_tag", "Name the tag to add or remove.")
        return data
