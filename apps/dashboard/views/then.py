"""Time travel: what the space believed at a past moment, for a subject, an entity or
all of it; and a subject's or entity's facts as validity bars with their supersessions.

The form is a GET form, so the URL keeps the question (?subject=Maya&at=2026-09-15).
The slider (static/js/then.js) reloads the panel through htmx and rewrites the URL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import plotly.graph_objects as go
from django import forms
from django.db.models import Count, QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.core.params import InvalidParameter, parse_day, parse_instant
from apps.dashboard import charts
from apps.dashboard.access import Curator, HtmxHttpRequest, space_page
from apps.memories import history
from apps.memories.models import Entity, Memory, MemoryRules, Status

LISTED = 200
SUBJECTS_OFFERED = 500
ENTITIES_OFFERED = 200
LABEL_CHARS = 28
SLIDER_STEPS = 1000
STATUS_COLOURS = {
    Status.ACTIVE: "#2563eb",
    Status.SUPERSEDED: "#d97706",
    Status.ARCHIVED: "#9ca3af",
}
RECORDED_COLOUR = "#6b7280"


class ThenForm(forms.Form):
    subject = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    entity = forms.CharField(required=False, max_length=40)
    at = forms.CharField(required=False, max_length=40, label="Moment")
    # Record time or not: what the agent could have known then, or what we know now
    # held then (history recorded after the fact, such as an import, shows only here).
    view = forms.ChoiceField(
        required=False,
        choices=[("believed", "Believed then"), ("known", "Known now to have held then")],
    )

    def __init__(self, curator: Curator, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.curator = curator

    def clean_entity(self) -> Entity | None:
        """One of this space's entities: another space's id is no entity here."""
        value = self.cleaned_data["entity"].strip()
        if not value:
            return None
        try:
            found = Entity.objects.for_space(self.curator.space).filter(pk=UUID(value)).first()
        except ValueError:
            found = None
        if found is None:
            raise forms.ValidationError("This space has no such entity.")
        return found

    def clean_at(self) -> datetime:
        """A day means its end in the display zone: what was believed by then. Any
        other value is an ISO date-time, read in the display zone when it has no offset.
        Empty means now."""
        value = self.cleaned_data["at"].strip()
        if not value:
            return timezone.now()
        try:
            if len(value) == len("2026-09-15"):
                day = parse_day(value, "the moment")
                midnight = datetime.combine(day + timedelta(days=1), time())
                ends = timezone.make_aware(midnight) - timedelta(microseconds=1)
                return ends.astimezone(UTC)
            return parse_instant(value, "the moment", assume=timezone.get_current_timezone())
        except (InvalidParameter, OverflowError):
            raise forms.ValidationError(
                "Enter the moment as a day (2026-09-15) or a date and time (2026-09-15T14:30)."
            ) from None


def _page_url(curator: Curator, data: dict[str, Any], moment: datetime) -> str:
    params = {
        "subject": data.get("subject") or "",
        "at": _local_value(moment),
        "view": "known" if data.get("view") == "known" else "",
    }
    if data.get("entity"):
        params["entity"] = str(data["entity"].pk)
    query = urlencode({name: value for name, value in params.items() if value})
    return f"{reverse('dashboard:then', args=[curator.space.slug])}?{query}"


def _local_value(moment: datetime) -> str:
    """The moment as a datetime-local field holds it: display time, to the second."""
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0).isoformat()


def _plotted(moment: datetime) -> str:
    """Plotly's date axes know no time zones: times go as wall-clock display time."""
    return timezone.localtime(moment).replace(tzinfo=None).isoformat()


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _facts_figure(curator: Curator, facts: history.Facts, moment: datetime) -> dict[str, Any]:
    """One horizontal bar per memory over its validity (open bars run to now), arrows
    from each superseded bar's end to the start of the bar that replaced it, and a
    vertical line at the moment."""
    now = timezone.now()
    lane = {bar.memory_id: index for index, bar in enumerate(facts.bars)}
    traces: list[Any] = []
    for status, colour in STATUS_COLOURS.items():
        xs: list[str | None] = []
        ys: list[int | None] = []
        for bar in facts.bars:
            if bar.status == status:
                xs += [_plotted(bar.start), _plotted(bar.end or max(now, bar.start)), None]
                ys += [lane[bar.memory_id], lane[bar.memory_id], None]
        if xs:
            traces.append(charts.segments(xs, ys, str(Status(status).label), colour, 14))
    traces.append(
        go.Scatter(
            x=[_plotted(bar.recorded_at) for bar in facts.bars],
            y=[lane[bar.memory_id] for bar in facts.bars],
            mode="markers",
            name="recorded",
            marker={
                "symbol": "line-ns-open",
                "size": 20,
                "color": RECORDED_COLOUR,
                "line": {"width": 2, "color": RECORDED_COLOUR},
            },
            text=[_label(bar.content) for bar in facts.bars],
            customdata=[
                reverse("dashboard:memory", args=[curator.space.slug, bar.memory_id])
                for bar in facts.bars
            ],
            hovertemplate="recorded %{x}<br>%{text}<extra></extra>",
        )
    )
    ends = {bar.memory_id: bar for bar in facts.bars}
    arrows = [
        {
            "x": _plotted(ends[new].start),
            "y": lane[new],
            "ax": _plotted(ends[old].end or ends[new].start),
            "ay": lane[old],
            "xref": "x",
            "yref": "y",
            "axref": "x",
            "ayref": "y",
            "showarrow": True,
            "arrowhead": 3,
            "arrowwidth": 1.5,
            "arrowcolor": "#b45309",
            "text": "",
        }
        for old, new in facts.supersessions
    ]
    marker = {
        "x": _plotted(moment),
        "y": 1,
        "xref": "x",
        "yref": "paper",
        "yanchor": "bottom",
        "showarrow": False,
        "text": "then",
        "font": {"color": "#dc2626"},
    }
    layout = charts.layout(
        height=max(180, 60 + 34 * len(facts.bars)),
        margin={"l": 10, "r": 10, "t": 24, "b": 40},
        # The key is in the page (then.html): a plotly legend under the axis collides
        # with two-line date labels, and its height changes with the number of bars.
        showlegend=False,
        xaxis={"type": "date"},
        yaxis={
            "tickvals": list(lane.values()),
            "ticktext": [_label(bar.content) for bar in facts.bars],
            "autorange": "reversed",
            "automargin": True,
            "zeroline": False,
        },
        shapes=[
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": _plotted(moment),
                "x1": _plotted(moment),
                "y0": 0,
                "y1": 1,
                "line": {"color": "#dc2626", "width": 2, "dash": "dot"},
            }
        ],
        annotations=[*arrows, marker],
    )
    return dict(json.loads(go.Figure(data=traces, layout=layout).to_json()))


def _slider(curator: Curator, moment: datetime) -> dict[str, int] | None:
    """The range slider's bounds in seconds since the epoch: from where the space's
    history begins to now, in SLIDER_STEPS steps."""
    first = history.first_moment(curator.space)
    if first is None:
        return None
    last = max(timezone.now(), moment)
    start, end = int(first.timestamp()), int(last.timestamp()) + 1
    return {
        "min": start,
        "max": end,
        "step": max(1, (end - start) // SLIDER_STEPS),
        "value": min(max(int(moment.timestamp()), start), end),
    }


def _choices(curator: Curator, chosen: Entity | None) -> dict[str, Any]:
    subjects = (
        Memory.objects.for_space(curator.space)
        .exclude(subject="")
        .order_by("subject")
        .values_list("subject", flat=True)
        .distinct()[:SUBJECTS_OFFERED]
    )
    entities: list[Entity] = list(
        Entity.objects.for_space(curator.space)
        .annotate(mention_count=Count("mentions"))
        .order_by("-mention_count", "name")[:ENTITIES_OFFERED]
    )
    if chosen is not None and chosen not in entities:
        entities.append(chosen)
    return {"subjects": list(subjects), "entities": sorted(entities, key=lambda e: e.name)}


@require_GET
@space_page()
def time_travel(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = ThenForm(curator, request.GET)
    context: dict[str, Any] = {"nav": "then", "form": form}
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        moment: datetime = data["at"]
        subject, entity = data["subject"].strip(), data["entity"]
        known_now = data["view"] == "known"
        if known_now:
            believed: QuerySet[Any] = history.held_at(
                curator.space, moment, subject=subject, entity=entity
            )
        else:
            believed = history.believed_at(curator.space, moment, subject=subject, entity=entity)
        listed = list(believed[: LISTED + 1])
        if not listed and not known_now:
            # Empty because it was all recorded later? Say so, and where to look.
            context["held_later"] = history.held_at(
                curator.space, moment, subject=subject, entity=entity
            ).count()
        context.update(
            moment=moment,
            at_value=_local_value(moment),
            beliefs=listed[:LISTED],
            cut=len(listed) > LISTED,
            count=believed.count() if len(listed) > LISTED else len(listed),
            subject=subject,
            entity=entity,
            known_now=known_now,
            page_url=_page_url(curator, data, moment),
            known_url=_page_url(curator, {**data, "view": "known"}, moment),
        )
        if subject or entity:
            facts = history.facts_of(curator.space, subject=subject, entity=entity)
            context["facts"] = facts
            if facts.bars:
                context["figure"] = _facts_figure(curator, facts, moment)
    else:
        status = 400
        context["at_value"] = form.data.get("at", "")
    if request.htmx and request.htmx.target == "then-panel":
        return render(request, "dashboard/then.html#panel", context, status=status)
    moment_for_slider = context.get("moment") or timezone.now()
    chosen = form.cleaned_data.get("entity") if form.is_valid() else None
    context.update(_choices(curator, chosen), slider=_slider(curator, moment_for_slider))
    return render(request, "dashboard/then.html", context, status=status)
