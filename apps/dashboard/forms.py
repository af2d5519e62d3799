"""The dashboard's forms, every one of them: the views only bind and read them.

A memory's fields take their limits from `MemoryRules`, and their tags are cleaned by
the domain layer's own `clean_tags`, so a page refuses exactly what the API refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Field, QuerySet
from django.utils import timezone
from django.utils.text import Truncator, capfirst

from apps.audit.models import AuditEvent
from apps.consolidation.models import Operation, Proposal
from apps.core.params import DayFormField, InstantFormField
from apps.dashboard.access import Curator
from apps.dashboard.subjects import subject_matching
from apps.memories.graph import EDGE_TYPES, MAX_HOPS, MENTIONS, GraphError, NodeRef
from apps.memories.models import (
    STATUS_TRANSITIONS,
    Entity,
    Kind,
    LinkType,
    Memory,
    MemoryQuerySet,
    MemoryRules,
    Status,
)
from apps.memories.services import InvalidMemory
from apps.memories.services.rules import clean_tags
from apps.retrieval.search import MODES, Filters, search
from apps.spaces.models import Scope, Space
from apps.spaces.preferences import SCHEMA, Choice, ChoiceList, validate_space_settings

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
    subject = forms.CharField(
        required=False,
        max_length=MemoryRules.LABEL_MAX_LENGTH,
        # The space's subjects are offered; free text matches the start of any word.
        widget=forms.TextInput(attrs={"list": "space-subjects", "placeholder": "e.g. Maya"}),
    )
    agent = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    session = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    tag = forms.CharField(
        required=False,
        max_length=500,
        label="Tags",
        widget=forms.TextInput(attrs={"placeholder": "any of: tag, tag"}),
    )
    after = DayFormField(
        required=False, label="Occurred after", widget=forms.DateInput(attrs={"type": "date"})
    )
    before = DayFormField(
        required=False, label="Occurred before", widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> BrowseFilters:
        data: dict[str, Any] = self.cleaned_data
        status = data.get("status") or ""
        return BrowseFilters(
            subject_words=(data.get("subject") or "").strip(),
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


class BrowseFilters(Filters):
    """The search's filters, with the memory list's own Subject: words that start a
    word of the subject (`subject_matching`), where the API's `subject` is exact.

    Not a dataclass field: `Filters.narrows` compares each field with a plain
    `Filters()`'s, which has no such field."""

    def __init__(self, *, subject_words: str = "", **filters: Any) -> None:
        super().__init__(**filters)
        self.subject_words = subject_words

    def narrows(self) -> bool:
        return bool(self.subject_words) or super().narrows()

    def apply(self, queryset: QuerySet[Memory]) -> QuerySet[Memory]:
        found = super().apply(queryset)
        return found.filter(subject_matching(self.subject_words)) if self.subject_words else found


def _midnight(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=list(BULK_ACTIONS.items()))
    # Not "tag": that name is the browser's tag filter, posted alongside.
    bulk_tag = forms.CharField(required=False, max_length=MemoryRules.TAG_MAX_LENGTH)
    all_matching = forms.BooleanField(required=False)
    confirmed = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in ("tag", "untag") and not (data.get("bulk_tag") or "").strip():
            self.add_error("bulk_tag", "Name the tag to add or remove.")
        return data


# ----------------------------------------------------------------- one memory

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _datetime_local() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)


def _model_default(name: str) -> Any:
    """A Memory column's default: what a new memory gets when a field is left as it is."""
    return cast("Field[Any, Any]", Memory._meta.get_field(name)).get_default()


def _score(name: str) -> forms.FloatField:
    return forms.FloatField(
        initial=_model_default(name),
        min_value=MemoryRules.SCORE_MIN,
        max_value=MemoryRules.SCORE_MAX,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )


class MemoryFieldsForm(forms.Form):
    """A memory's fields as a curator writes them, for a new memory and an edit alike."""

    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), strip=False)
    subject = forms.CharField(
        required=False,
        max_length=MemoryRules.LABEL_MAX_LENGTH,
        help_text="Whom or what it is about, e.g. “Maya Okafor”.",
        widget=forms.TextInput(attrs={"list": "space-subjects"}),
    )
    tags = forms.CharField(
        required=False,
        help_text="Separate tags with commas.",
        label="Tags",
        # Room for every tag allowed at its longest, each with a comma and a space.
        max_length=MemoryRules.MAX_TAGS * (MemoryRules.TAG_MAX_LENGTH + 2),
    )
    kind = forms.ChoiceField(choices=Kind.choices, initial=_model_default("kind"))
    importance = _score("importance")
    confidence = _score("confidence")
    valid_from = InstantFormField(required=False, widget=_datetime_local())
    valid_to = InstantFormField(required=False, widget=_datetime_local())
    pinned = forms.BooleanField(required=False)

    def clean_content(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; stored text uses LF.
        content = self.cleaned_data["content"].replace("\r\n", "\n")
        if not content.strip():
            raise forms.ValidationError("A memory cannot be empty.")
        limit = MemoryRules.content_max_chars()
        if len(content) > limit:
            raise forms.ValidationError(
                f"This is {len(content)} characters; a memory holds at most {limit}."
            )
        return content

    def clean_subject(self) -> str:
        return str(self.cleaned_data["subject"]).strip()

    def clean_tags(self) -> list[str]:
        try:
            return clean_tags(self.cleaned_data["tags"].split(","))
        except InvalidMemory as refused:
            raise forms.ValidationError(f"{capfirst(refused.message)}.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("valid_from"), data.get("valid_to")
        if starts and ends and starts >= ends:
            self.add_error("valid_to", "“Valid to” must be after “valid from”.")
        return data


class MemoryCreateForm(MemoryFieldsForm):
    """A new memory written by a curator; `fields_for_create()` is what `create_memory` takes."""

    occurred_at = InstantFormField(
        required=False,
        label="Occurred at",
        help_text="When it happened, if it is an event.",
        widget=_datetime_local(),
    )
    reason = forms.CharField(
        required=False, max_length=500, help_text="Optional; kept with the first version."
    )

    CREATED = (
        "content",
        "subject",
        "tags",
        "kind",
        "importance",
        "confidence",
        "occurred_at",
        "valid_from",
        "valid_to",
        "pinned",
    )
    field_order = [*CREATED, "reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "new_%s")
        super().__init__(*args, **kwargs)

    def fields_for_create(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.CREATED}


class MemoryEditForm(MemoryFieldsForm):
    """The fields a curator edits, as they appear on the page."""

    reason = forms.CharField(
        required=False, max_length=500, help_text="Optional; kept with the version."
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    EDITED = (
        "content",
        "subject",
        "tags",
        "kind",
        "importance",
        "confidence",
        "valid_from",
        "valid_to",
        "pinned",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "edit_%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def for_memory(cls, memory: Memory) -> MemoryEditForm:
        initial: dict[str, Any] = {name: getattr(memory, name) for name in cls.EDITED}
        initial["tags"] = ", ".join(memory.tags)
        initial["version"] = memory.version
        return cls(initial=initial)

    def changes(self, memory: Memory) -> dict[str, Any]:
        """The edited fields whose submitted value differs from the memory's.

        Datetimes are compared to the minute, the precision of the input, so
        saving an untouched form does not shave the seconds off a date.
        """
        changed: dict[str, Any] = {}
        for name in self.EDITED:
            value, current = self.cleaned_data[name], getattr(memory, name)
            if isinstance(current, datetime) or isinstance(value, datetime):
                unchanged = _to_minute(current) == _to_minute(value)
            else:
                unchanged = current == value
            if not unchanged:
                changed[name] = value
        return changed


def _to_minute(moment: datetime | None) -> datetime | None:
    return moment.replace(second=0, microsecond=0) if moment else None


class StatusForm(forms.Form):
    action = forms.ChoiceField(choices=[(name, name) for name in STATUS_TRANSITIONS])
    reason = forms.CharField(required=False, max_length=500)


class RevertForm(forms.Form):
    to_version = forms.IntegerField(min_value=1)
    version = forms.IntegerField(min_value=1)
    reason = forms.CharField(required=False, max_length=500)


class RedactForm(forms.Form):
    """A span of a memory's content to redact: the exact text, and where it starts and
    ends when the page's script took it from a selection (code-point offsets). Without
    the offsets, or when they no longer point at the text, its first occurrence is
    taken: every occurrence is replaced anyway."""

    TYPES = (
        ("secret", "Secret (key, token, password)"),
        ("email", "Email address"),
        ("phone", "Phone number"),
        ("name", "Name"),
        ("address", "Address"),
        ("pii", "Other personal data"),
    )

    text = forms.CharField(
        label="Text to redact",
        max_length=2000,
        strip=False,
        help_text="Exactly as it stands in the content; every occurrence is replaced.",
        error_messages={"required": "Say which text to redact, or select it in the content."},
    )
    start = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    end = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    type = forms.ChoiceField(label="What it is", choices=TYPES)
    reason = forms.CharField(
        max_length=500,
        help_text="Kept in the audit log; the text itself is not.",
        error_messages={"required": "Say why this text is redacted."},
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, content: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "redact_%s")
        super().__init__(*args, **kwargs)
        self.content = content

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = data.get("text")
        if text and text not in self.content:
            self.add_error(
                "text", "This text is not in the memory's content (it must match exactly)."
            )
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and not start < end <= len(self.content):
            # A selection is taken from the page; one outside the content came from a
            # page of another version, or was made up.
            self.add_error(
                None,
                f"The selection is not within the content ({len(self.content)} characters): "
                "select the text again, or type it without a selection.",
            )
        return data

    def span(self) -> tuple[int, int, str]:
        """The span to redact, once the form is valid."""
        text, start = self.cleaned_data["text"], self.cleaned_data["start"]
        if start is None or self.content[start : start + len(text)] != text:
            start = self.content.index(text)
        return (start, start + len(text), self.cleaned_data["type"])


class PurgeForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit log, which outlives the memory.",
        error_messages={"required": "Say why this memory is purged."},
    )
    confirm = forms.BooleanField(
        label="I understand the memory, its versions and links are deleted for good.",
        error_messages={"required": "Tick the box to confirm the purge."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "purge_%s")
        super().__init__(*args, **kwargs)


class VersionPairForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="From version")
    b = forms.IntegerField(min_value=1, label="To version")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "pair_%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("a") is not None and data.get("a") == data.get("b"):
            self.add_error("b", "Pick two different versions.")
        return data


# ----------------------------------------------------------------- timeline


class TimelineForm(forms.Form):
    subject = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    agent = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    session = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    colour = forms.ChoiceField(
        choices=[("kind", "Kind"), ("status", "Status")], required=False, label="Colour by"
    )
    start = InstantFormField(required=False, label="From")
    end = InstantFormField(required=False, label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start >= end:
            self.add_error("end", "The end must come after the start.")
        return data

    def memories(self, curator: Curator) -> MemoryQuerySet[Memory, Memory]:
        # Every status: a timeline shows what was superseded or deleted too.
        found = Memory.objects.for_space(curator.space)
        for name in ("subject", "agent", "session"):
            if self.cleaned_data.get(name):
                found = found.filter(**{name: self.cleaned_data[name]})
        return found


# ----------------------------------------------------------------- graph

# The link types' own labels, and the edge between a memory and an entity.
EDGE_LABELS = {**dict(LinkType.choices), MENTIONS: "mentions"}


class GraphForm(forms.Form):
    """Where the graph starts: `memory:<id>`, `entity:<id>`, or words. Words name an
    entity of the space by its exact name, else the memory that best matches them as
    text (`matched` then says which, so the page can tell the curator)."""

    center = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    hops = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(1, MAX_HOPS + 1)], coerce=int, initial=1, required=False
    )
    types = forms.MultipleChoiceField(
        choices=[(t, EDGE_LABELS[t]) for t in EDGE_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Edge types",
    )

    def __init__(self, *args: Any, space: Space, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.space = space
        self.matched: str = ""  # the words' pick, described, when words were given

    def clean_center(self) -> NodeRef | None:
        raw = self.cleaned_data["center"].strip()
        if not raw:
            return None
        if raw.startswith(("memory:", "entity:")) or _is_uuid(raw):
            try:
                return NodeRef.parse(raw)
            except GraphError as error:
                raise forms.ValidationError(error.message) from None
        entity = Entity.objects.for_space(self.space).filter(name__iexact=raw).first()
        if entity is not None:
            self.matched = f"the entity {entity.name}"
            return NodeRef("entity", entity.pk)
        # Text mode: words either occur in a memory or match nothing, where a vector
        # search would always return its nearest memory, however far.
        found = search(self.space, raw, mode="text", k=1, record_access=False)
        if not found.hits:
            raise forms.ValidationError(
                f"No memory or entity in this space matches “{raw}”. Try other words, "
                "or start from one of the memories listed below."
            )
        memory = found.hits[0].memory
        self.matched = f"“{Truncator(memory.content).chars(120)}”"
        return NodeRef("memory", memory.pk)


def _is_uuid(raw: str) -> bool:
    try:
        UUID(raw)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------- map

COLOURINGS = {
    "cluster": "Cluster",
    "kind": "Kind",
    "status": "Status",
    "agent": "Agent",
    "age": "Age",
    "duplicates": "Near-duplicates",
}


class MapForm(forms.Form):
    colour = forms.ChoiceField(choices=list(COLOURINGS.items()), required=False, label="Colour by")


# ----------------------------------------------------------------- review queue


class QueueForm(forms.Form):
    operation = forms.ChoiceField(
        choices=[("", "Every operation"), *Operation.choices], required=False
    )
    # Every status, so a curator can find what went stale, was retired or undone, and why.
    status = forms.ChoiceField(choices=Proposal.Status.choices, required=False)
    min_score = forms.FloatField(required=False, min_value=0, max_value=1, label="Score at least")


class ProposalIdsField(forms.Field):
    """The proposals ticked on the page: every value of the field, each a proposal id."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            return sorted({int(v) for v in values})
        except (TypeError, ValueError):
            raise forms.ValidationError("Proposals are named by their number.") from None


class BulkApproveForm(forms.Form):
    """Decide many pending proposals at once: those ticked, or those of an operation
    and/or at or above a score. At least one of the three must narrow the choice."""

    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], required=False
    )
    operation = forms.ChoiceField(
        choices=[("", "of every operation"), *Operation.choices], required=False
    )
    min_score = forms.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        error_messages={"invalid": "The score is a number from 0 to 1."},
    )
    ids = ProposalIdsField(required=False)
    confirmed = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["decision"] = data.get("decision") or "approve"
        chosen = data.get("operation") or data.get("min_score") is not None or data.get("ids")
        if not self.errors and not chosen:
            raise forms.ValidationError(
                "Choose an operation or a score, or tick the proposals to decide."
            )
        return data


# ----------------------------------------------------------------- audit log

ACTOR_KINDS = ("user", "token", "system")


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        max_length=200,
        label="Actor",
        help_text="user:alice, token:agent-1, or just the name",
    )
    # Free text with the actions present as suggestions: "memory" matches every memory.* action.
    action = forms.CharField(
        required=False,
        max_length=64,
        label="Action",
        help_text="memory.update, or memory for all",
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    target_type = forms.CharField(
        required=False,
        max_length=32,
        label="Target type",
        widget=forms.TextInput(attrs={"list": "audit-target-types"}),
    )
    target_id = forms.CharField(required=False, max_length=64, label="Target id")
    since = DayFormField(
        required=False, label="Since", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = DayFormField(
        required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )
    # Each visit to a memory's page is a read in the log; a curator's own would bury
    # everything else they look for there.
    mine = forms.BooleanField(required=False, label="Show my page views")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "“Until” is before “Since”.")
        return data

    def apply(self, events: QuerySet[AuditEvent], *, viewer: str) -> QuerySet[AuditEvent]:
        """The events these filters keep, without `viewer`'s own dashboard page views
        unless "Show my page views" is ticked."""
        data = self.cleaned_data
        if not data.get("mine"):
            events = events.exclude(
                action="memory.read", actor_label=viewer, summary__contains={"via": "dashboard"}
            )
        actor = data.get("actor", "").strip()
        if actor:
            # A bare name matches whoever bears it; each label stays an indexed equality.
            labels = [actor] if ":" in actor else [actor, *(f"{k}:{actor}" for k in ACTOR_KINDS)]
            events = events.filter(actor_label__in=labels)
        action = data.get("action", "").strip()
        if action:
            # "memory" or "memory." means every memory.* action.
            if "." in action and not action.endswith("."):
                events = events.filter(action=action)
            else:
                events = events.filter(action__startswith=action.rstrip(".") + ".")
        if data.get("target_type", "").strip():
            events = events.filter(target_type=data["target_type"].strip())
        if data.get("target_id", "").strip():
            events = events.filter(target_id=data["target_id"].strip())
        if data.get("since"):
            events = events.filter(created_at__gte=_midnight(data["since"]))
        if data.get("until"):
            # "Until" is inclusive: the whole of that day.
            events = events.filter(created_at__lt=_midnight(data["until"] + timedelta(days=1)))
        return events

    def is_filtering(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


# ----------------------------------------------------------------- tokens

MAX_EXPIRY_DAYS = 3650


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Name", help_text="Which agent uses it, e.g. “support-bot”."
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        label="Expires after (days)",
        help_text="Leave empty for a token that does not expire.",
    )


@dataclass(frozen=True)
class SettingRow:
    """One option of the settings page: its field, and each value's one-line meaning."""

    field: forms.BoundField
    choices: list[tuple[forms.BoundField | Any, str]]
    many: bool


class SpaceSettingsForm(forms.Form):
    """A space's name and description (the model's rules) and one field per option of
    the settings SCHEMA, named "section.option": a Choice is a radio group, a
    ChoiceList a set of checkboxes. The settings it composes are checked by the same
    validate_space_settings as the API's and the admin's."""

    SECTION_TITLES = {"hygiene": "Hygiene policy", "consolidation": "Consolidation"}
    SPACE_FIELDS = ("name", "description")

    def __init__(self, *args: Any, space: Space, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "settings_%s")
        super().__init__(*args, **kwargs)
        self.space = space
        for name in self.SPACE_FIELDS:
            model_field = Space._meta.get_field(name)
            assert isinstance(model_field, Field)
            field = model_field.formfield()
            assert field is not None
            self.fields[name] = field
            self.initial[name] = getattr(space, name)
        self.fields["description"].widget.attrs["rows"] = 3
        self.options: dict[str, tuple[str, str, Choice | ChoiceList]] = {}
        for section, options in SCHEMA.items():
            for name, option in options.items():
                key = f"{section}.{name}"
                self.options[key] = (section, name, option)
                choices = [(value, value) for value in option.values()]
                if isinstance(option, ChoiceList):
                    self.fields[key] = forms.MultipleChoiceField(
                        choices=choices,
                        required=False,
                        label=option.label or name,
                        widget=forms.CheckboxSelectMultiple,
                    )
                else:
                    self.fields[key] = forms.ChoiceField(
                        choices=choices, label=option.label or name, widget=forms.RadioSelect
                    )
                self.initial[key] = space.setting(section, name)

    def sections(self) -> list[tuple[str, list[SettingRow]]]:
        """The options by section, hygiene first: what the page lays out."""
        grouped: dict[str, list[SettingRow]] = {section: [] for section in self.SECTION_TITLES}
        for key, (section, _name, option) in self.options.items():
            explained = option.explanations()
            bound = self[key]
            grouped.setdefault(section, []).append(
                SettingRow(
                    field=bound,
                    choices=[(w, explained.get(w.data["value"], "")) for w in bound.subwidgets],
                    many=isinstance(option, ChoiceList),
                )
            )
        return [
            (self.SECTION_TITLES.get(section, section), rows) for section, rows in grouped.items()
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            validate_space_settings(self.settings())
        except ValidationError as refused:
            for where, problems in refused.message_dict.items():
                self.add_error(where if where in self.fields else None, problems)
        return cleaned

    def settings(self) -> dict[str, Any]:
        """The space's stored settings with this form's options written in."""
        stored = self.space.settings if isinstance(self.space.settings, dict) else {}
        composed = {
            section: dict(options) if isinstance(options, dict) else options
            for section, options in stored.items()
        }
        for key, (section, name, _option) in self.options.items():
            if key not in self.cleaned_data:
                continue
            if not isinstance(composed.get(section), dict):
                composed[section] = {}
            composed[section][name] = self.cleaned_data[key]
        return composed

    def changes(self) -> dict[str, Any]:
        """What differs from the space as stored, as update_space takes it."""
        data = self.cleaned_data
        changes = {
            name: data[name]
            for name in self.SPACE_FIELDS
            if data[name] != getattr(self.space, name)
        }
        for key, (section, name, option) in self.options.items():
            now, wanted = self.space.setting(section, name), data[key]
            if isinstance(option, ChoiceList):
                now, wanted = set(now), set(wanted)
            if now != wanted:
                changes["settings"] = self.settings()
                break
        return changes
