"""Charts of the report: pure functions from DataFrames to plotly figures (no I/O)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
]


# A light look without plotly's full template, which would add ~8 KB to every chart.
_BASE_LAYOUT = {
    "template": "none",
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#2a3f5f"},
}
_AXIS = {"gridcolor": "#ebf0f8", "zerolinecolor": "#ebf0f8", "linecolor": "#ebf0f8"}


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _period_label(grain: str) -> str:
    return "%Y" if grain == "year" else "%b %Y"


def share_figure(series: pd.DataFrame, title: str = "", key: str = "topic_id") -> go.Figure:
    """Share over time of one or more topics, each with its 95% interval as a band.

    ``series`` has the columns of ``topic_shares`` for one source: period_start, ``key`` (the
    series id: topic_id, or theme_id for themes), label, papers, denominator, share, ci_low,
    ci_high, is_partial. Hovering a point shows the
    papers behind it; partial periods are drawn as open markers and named in the hover text.
    """
    fig = go.Figure()
    grain = series["period_grain"].iloc[0] if "period_grain" in series and len(series) else "month"
    for i, (series_id, rows) in enumerate(series.groupby(key, sort=False)):
        rows = rows.sort_values("period_start")
        color = PALETTE[i % len(PALETTE)]
        label = str(rows["label"].iloc[0])
        x = pd.to_datetime(rows["period_start"])
        group = f"s{series_id}"
        fig.add_trace(
            go.Scatter(
                x=list(x) + list(x[::-1]),
                y=list(rows["ci_high"] * 100) + list(rows["ci_low"][::-1] * 100),
                mode="lines",
                fill="toself",
                fillcolor=_rgba(color, 0.10),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=group,
                name=f"{label} (95% interval)",
            )
        )
        partial = rows["is_partial"].astype(bool)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=rows["share"] * 100,
                mode="lines+markers",
                name=label,
                legendgroup=group,
                line={"color": color, "width": 2},
                marker={
                    "color": ["white" if p else color for p in partial],
                    "line": {"color": color, "width": 1.5},
                    "size": 7,
                },
                customdata=list(
                    zip(
                        rows["papers"],
                        rows["denominator"],
                        rows["ci_low"] * 100,
                        rows["ci_high"] * 100,
                        ["partial period" if p else "" for p in partial],
                        strict=True,
                    )
                ),
                hovertemplate=(
                    "<b>%{fullData.name}</b><br>%{x|" + _period_label(grain) + "}: %{y:.2f}%"
                    " (95% CI %{customdata[2]:.2f}-%{customdata[3]:.2f}%)<br>"
                    "%{customdata[0]} of %{customdata[1]} papers %{customdata[4]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=title or None,
        yaxis={"title": "share of papers (%)", "rangemode": "tozero", "ticksuffix": "%"},
        xaxis={"title": None},
        hovermode="closest",
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 60, "r": 20, "t": 40 if title else 10, "b": 40},
        **_BASE_LAYOUT,
        height=420,
    )
    return fig


def corpus_figure(corpus: pd.DataFrame) -> go.Figure:
    """Papers per period and source, stacked: how much data stands behind each period."""
    fig = go.Figure()
    for i, (source, rows) in enumerate(corpus.groupby("source", sort=True)):
        rows = rows.sort_values("period_start")
        fig.add_trace(
            go.Bar(
                x=pd.to_datetime(rows["period_start"]),
                y=rows["papers"],
                name=str(source),
                marker_color=PALETTE[i % len(PALETTE)],
                customdata=rows["papers_in_fit"],
                hovertemplate=(
                    "%{x|%b %Y}: %{y:,} papers (%{customdata:,} in the topic fit)"
                    f"<extra>{source}</extra>"
                ),
            )
        )
    fig.update_layout(
        barmode="stack",
        yaxis={"title": "papers"},
        **_BASE_LAYOUT,
        height=260,
        margin={"l": 60, "r": 20, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def sparkline_figure(rows: pd.DataFrame) -> go.Figure:
    """A tiny share-over-time line with its interval, for tables of rising and fading topics."""
    rows = rows.sort_values("period_start")
    x = pd.to_datetime(rows["period_start"])
    fig = go.Figure(
        [
            go.Scatter(
                x=list(x) + list(x[::-1]),
                y=list(rows["ci_high"] * 100) + list(rows["ci_low"][::-1] * 100),
                mode="lines",
                fill="toself",
                fillcolor="rgba(31,119,180,0.15)",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            ),
            go.Scatter(
                x=x,
                y=rows["share"] * 100,
                mode="lines",
                line={"color": "#1f77b4", "width": 1.5},
                customdata=rows["papers"],
                showlegend=False,
                hovertemplate="%{x|%b %Y}: %{y:.1f}% (%{customdata} papers)<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        height=50,
        width=140,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False, "rangemode": "tozero"},
        **_BASE_LAYOUT,
    )
    return fig


def topic_map_figure(points: pd.DataFrame, top_n: int = 20) -> go.Figure:
    """2-D map of sampled papers coloured by topic (WebGL); a click carries the topic's page.

    ``points`` has paper_id, x, y, topic_id, label, title. The ``top_n`` largest topics get
    their own colour and legend entry; the others share one grey trace.
    """
    import html

    sizes = points[points["topic_id"] != -1]["topic_id"].value_counts()
    top = list(sizes.index[:top_n])
    fig = go.Figure()
    groups = [(t, points[points["topic_id"] == t]) for t in top]
    groups.append(("other", points[~points["topic_id"].isin(top)]))
    for i, (topic, rows) in enumerate(groups):
        if rows.empty:
            continue
        other = topic == "other"
        fig.add_trace(
            go.Scattergl(
                x=rows["x"].round(3),
                y=rows["y"].round(3),
                mode="markers",
                name="other topics and unassigned" if other else str(rows["label"].iloc[0]),
                marker={
                    "size": 4,
                    "opacity": 0.35 if other else 0.75,
                    "color": "#c7c7c7" if other else (_MAP_COLORS[i % len(_MAP_COLORS)]),
                },
                text=[html.escape(t[:120]) for t in rows["title"]],
                customdata=[f"topics/{int(t)}.html" for t in rows["topic_id"]],
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        **_BASE_LAYOUT,
        height=640,
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        legend={"font": {"size": 10}},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


_MAP_COLORS = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
    "#31a354", "#756bb1", "#636363", "#9c9ede",
]  # fmt: skip
