"""A space's home: what needs attention, what the agents did lately, which memories
are contradicted, never recalled, fading or marked not useful, and the last jobs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from plotly.subplots import make_subplots

from apps.dashboard import attention, charts
from apps.dashboard.access import Curator, space_page
from apps.spaces.models import Membership

PALETTE = ["#2563eb", "#d97706", "#16a34a", "#7c3aed", "#dc2626", "#0891b2", "#9ca3af"]


def _activity_figure(days: list[attention.DayOfAgent], now: datetime) -> dict[str, Any]:
    """Writes above, recalls below, one colour per agent, over the whole window."""
    agents = sorted({row.agent for row in days})
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12)
    for index, agent in enumerate(agents):
        colour = PALETTE[index % len(PALETTE)]
        mine = [row for row in days if row.agent == agent]
        for panel, (counted, of) in enumerate(
            (("writes", [r.writes for r in mine]), ("recalls", [r.recalls for r in mine])),
            start=1,
        ):
            figure.add_trace(
                go.Bar(
                    x=[r.day.isoformat() for r in mine],
                    y=of,
                    name=agent,
                    legendgroup=agent,
                    showlegend=panel == 1,
                    marker={"color": colour},
                    hovertemplate=f"%{{y}} {counted}<extra>{agent}</extra>",
                ),
                row=panel,
                col=1,
            )
    start = (timezone.localtime(now) - attention.ACTIVITY_WINDOW).date()
    figure.update_layout(
        charts.layout(
            barmode="stack",
            height=300,
            legend={"orientation": "h", "y": -0.15},
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
        )
    )
    figure.update_xaxes(type="date", range=[start.isoformat(), timezone.localdate(now)])
    figure.update_yaxes(title_text="writes", row=1, col=1, rangemode="tozero")
    figure.update_yaxes(title_text="recalls", row=2, col=1, rangemode="tozero")
    return dict(json.loads(figure.to_json()))


@require_GET
@space_page()
def home(request: HttpRequest, curator: Curator) -> HttpResponse:
    now = timezone.now()
    # The figures are read before this view is noted as a visit; during a visit the
    # "new since" moment stays put, so both orders agree, and this one needs no re-read.
    figures = attention.attention_for(request.user, now, curator.space)[0]
    Membership.objects.filter(user_id=request.user.pk or 0, space=curator.space).record_visit(now)
    days = attention.agent_activity(curator.space, now)
    lists = {
        "contradicted": attention.contradicted(curator.space),
        "never_recalled": attention.never_recalled(curator.space, now),
        "fading": attention.fading(curator.space, now),
        "not_useful": attention.marked_not_useful(curator.space),
    }
    return render(
        request,
        "dashboard/overview.html",
        {
            "nav": "overview",
            "a": figures,
            "failed_days": attention.FAILED_JOBS_WINDOW.days,
            "activity": days,
            "activity_days": attention.ACTIVITY_WINDOW.days,
            "figure": _activity_figure(days, now) if days else None,
            "writes": sum(row.writes for row in days),
            "recalls": sum(row.recalls for row in days),
            **{name: rows[: attention.SHORT_LIST] for name, rows in lists.items()},
            **{f"{name}_more": len(rows) > attention.SHORT_LIST for name, rows in lists.items()},
            "never_recalled_days": attention.NEVER_RECALLED_AFTER.days,
            "not_useful_marks": settings.RECALL_NOT_USEFUL_ATTENTION,
            "jobs": attention.recent_jobs(curator.space),
        },
    )
