"""What every chart of the dashboard shares: a transparent background (the page's
colours show through, light or dark) and tight margins."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from django.utils.safestring import SafeString, mark_safe

TIGHT = {"l": 10, "r": 10, "t": 10, "b": 10}
# As django.utils.html.json_script escapes: no markup can close the script element.
SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def layout(**settings: Any) -> go.Layout:
    settings.setdefault("margin", TIGHT)
    return go.Layout(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", **settings)


def script_safe(text: str) -> SafeString:
    """JSON text escaped as SCRIPT_ESCAPES says; str.replace, as fast on a megabyte of
    base64 as str.translate is slow."""
    for char, escaped in SCRIPT_ESCAPES.items():
        text = text.replace(chr(char), escaped)
    return mark_safe(text)


def as_script_json(figure: go.Figure) -> SafeString:
    """A figure's JSON, safe inside <script type="application/json">: escaped as
    Django's json_script escapes, without parsing plotly's output back first."""
    return mark_safe(figure.to_json().translate(SCRIPT_ESCAPES))


def segments(
    xs: list[Any], ys: list[Any], name: str, colour: str, width: float, **style: Any
) -> go.Scatter:
    """Line segments (pairs of points separated by None) drawn as one trace."""
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        name=name,
        line={"color": colour, "width": width},
        hoverinfo="skip",
        **style,
    )
