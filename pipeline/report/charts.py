"""Charts of the report: pure functions from DataFrames to plotly figures (no I/O).

Every string from the data (topic and theme labels, source names, titles) is escaped with
:func:`markup_safe` before it reaches a figure: plotly renders a subset of HTML (``<a href>``,
``<b>``, ``<br>``) in trace names, titles, annotations and hover text, so a label holding
``<a href="https://evil.example">`` would become a live link in a legend.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


def markup_safe(value: object) -> str:
    """``value`` as text that plotly shows as written, never as markup."""
    return html.escape(str(value))


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


THIN_COLOR = "#c7c7c7"
THIN_NOTE = "too few papers to read"


def period_text(period_start: object, grain: str) -> str:
    """A period as a reader names it: 2019, 2025 Q2 or May 2025."""
    day = pd.Timestamp(period_start)
    if grain == "year":
        return f"{day.year}"
    if grain == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    return day.strftime("%b %Y")


def one_grain(frame: pd.DataFrame) -> str:
    """The single period grain of ``frame`` (month when it has none); mixed grains are refused.

    Yearly and monthly periods never share an axis: a year's bar would dwarf a month's and a
    year's share is not comparable with a month's.
    """
    if "period_grain" not in frame or frame.empty:
        return "month"
    grains = frame["period_grain"].dropna().unique()
    if len(grains) > 1:
        raise ValueError(f"a chart shows one period grain, got {sorted(grains)}")
    return str(grains[0]) if len(grains) else "month"


def _flags(rows: pd.DataFrame, column: str) -> pd.Series:
    if column not in rows:
        return pd.Series(False, index=rows.index)
    return rows[column].fillna(False).astype(bool)


def readable_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of one series from its first period that is not thin on (sorted by period).

    Charts start where the evidence starts: leading periods whose denominator is too small to
    read (``is_thin``) are cut; later thin periods stay, dimmed by the chart.
    """
    rows = rows.sort_values("period_start")
    readable = ~_flags(rows, "is_thin")
    if not readable.any():
        return rows
    return rows.loc[readable.idxmax() :]


def _series_traces(
    rows: pd.DataFrame, color: str, label: str, grain: str, group: str, show_legend: bool = True
) -> list[go.Scatter]:
    """A series' 95% interval band and its share line; thin periods dimmed, partial ones open.

    The label is escaped: plotly reads tags in trace names, and labels come from papers' words.
    """
    label = markup_safe(label)
    rows = readable_rows(rows)
    x = pd.to_datetime(rows["period_start"])
    thin = _flags(rows, "is_thin")
    partial = _flags(rows, "is_partial")
    share = rows["share"] * 100
    # a thin period's interval spans most of the axis: draw no band there, only a grey point
    high = (rows["ci_high"] * 100).where(~thin, share)
    low = (rows["ci_low"] * 100).where(~thin, share)
    band = go.Scatter(
        x=list(x) + list(x[::-1]),
        y=list(high) + list(low[::-1]),
        mode="lines",
        fill="toself",
        fillcolor=_rgba(color, 0.10),
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
        legendgroup=group,
        name=f"{label} (95% interval)",
    )
    notes = [
        THIN_NOTE if t else ("partial period" if p else "")
        for t, p in zip(thin, partial, strict=True)
    ]
    line = go.Scatter(
        x=x,
        y=share,
        mode="lines+markers",
        name=label,
        legendgroup=group,
        showlegend=show_legend,
        line={"color": color, "width": 2},
        marker={
            "color": [
                THIN_COLOR if t else ("white" if p else color)
                for t, p in zip(thin, partial, strict=True)
            ],
            "line": {"color": [THIN_COLOR if t else color for t in thin], "width": 1.5},
            "size": 7,
        },
        customdata=list(
            zip(
                rows["papers"],
                rows["denominator"],
                rows["ci_low"] * 100,
                rows["ci_high"] * 100,
                notes,
                [period_text(p, grain) for p in rows["period_start"]],
                strict=True,
            )
        ),
        hovertemplate=(
            "<b>%{fullData.name}</b><br>%{customdata[5]}: %{y:.2f}%"
            " (95% CI %{customdata[2]:.2f}-%{customdata[3]:.2f}%)<br>"
            "%{customdata[0]} of %{customdata[1]} papers %{customdata[4]}<extra></extra>"
        ),
    )
    return [band, line]


def share_figure(series: pd.DataFrame, title: str = "", key: str = "topic_id") -> go.Figure:
    """Share over time of one or more series of one source and grain, each with its 95% band.

    ``series`` has the columns of ``topic_shares`` for one source and one period grain:
    period_start, ``key`` (the series id: topic_id, or theme_id for themes), label, papers,
    denominator, share, ci_low, ci_high, is_partial and (optionally) is_thin. Hovering a point
    shows the papers behind it; partial periods are open markers, thin periods grey markers
    without a band, and leading thin periods are cut (:func:`readable_rows`).
    """
    fig = go.Figure()
    grain = one_grain(series)
    for i, (series_id, rows) in enumerate(series.groupby(key, sort=False)):
        color = PALETTE[i % len(PALETTE)]
        label = str(rows["label"].iloc[0])
        fig.add_traces(_series_traces(rows, color, label, grain, f"s{series_id}"))
    fig.update_layout(
        title=markup_safe(title) if title else None,
        yaxis={"title": "share of papers (%)", "rangemode": "tozero", "ticksuffix": "%"},
        xaxis={"title": None},
        hovermode="closest",
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 60, "r": 20, "t": 40 if title else 10, "b": 40},
        **_BASE_LAYOUT,
        height=420,
    )
    return fig


def small_multiples_figure(
    series: pd.DataFrame, key: str = "theme_id", columns: int = 3
) -> go.Figure:
    """One small share chart per series on a shared time axis (one source, one grain).

    Each panel has its own y scale (a theme at 6% and one at 0.05% both stay readable) and the
    same x range, so the eye compares timing across panels; bands and dimming as in
    :func:`share_figure`. Panels follow the order of first appearance in ``series``.
    """
    grain = one_grain(series)
    groups = list(series.groupby(key, sort=False))
    n = max(len(groups), 1)
    rows_n = (n + columns - 1) // columns
    titles = [markup_safe(rows["label"].iloc[0]) for _, rows in groups]
    fig = make_subplots(
        rows=rows_n,
        cols=columns,
        shared_xaxes="all",
        subplot_titles=titles or None,
        vertical_spacing=min(0.12, 0.6 / rows_n),
        horizontal_spacing=0.06,
    )
    for i, (series_id, rows) in enumerate(groups):
        color = PALETTE[i % len(PALETTE)]
        label = str(rows["label"].iloc[0])
        traces = _series_traces(rows, color, label, grain, f"s{series_id}", show_legend=False)
        for trace in traces:
            fig.add_trace(trace, row=i // columns + 1, col=i % columns + 1)
    fig.update_yaxes(rangemode="tozero", ticksuffix="%", gridcolor=_AXIS["gridcolor"])
    fig.update_xaxes(showticklabels=True, gridcolor=_AXIS["gridcolor"])
    fig.update_annotations(font={"size": 12})
    fig.update_layout(
        **_BASE_LAYOUT,
        hovermode="closest",
        showlegend=False,
        height=60 + 190 * rows_n,
        margin={"l": 50, "r": 20, "t": 40, "b": 30},
    )
    return fig


def corpus_figure(corpus: pd.DataFrame) -> go.Figure:
    """Papers per period and source at one grain, stacked: the data behind each period.

    Thin periods (too few papers to read a share) are drawn faded. Mixed grains are refused.
    """
    grain = one_grain(corpus)
    fig = go.Figure()
    for i, (source, rows) in enumerate(corpus.groupby("source", sort=True)):
        rows = rows.sort_values("period_start")
        thin = _flags(rows, "is_thin")
        fig.add_trace(
            go.Bar(
                x=pd.to_datetime(rows["period_start"]),
                y=rows["papers"],
                name=markup_safe(source),
                marker_color=PALETTE[i % len(PALETTE)],
                marker_opacity=[0.35 if t else 1.0 for t in thin],
                customdata=list(
                    zip(
                        rows["papers_in_fit"],
                        [period_text(p, grain) for p in rows["period_start"]],
                        [f" ({THIN_NOTE})" if t else "" for t in thin],
                        strict=True,
                    )
                ),
                hovertemplate=(
                    "%{customdata[1]}: %{y:,} papers (%{customdata[0]:,} in the topic fit)"
                    f"%{{customdata[2]}}<extra>{markup_safe(source)}</extra>"
                ),
            )
        )
    fig.update_layout(
        barmode="stack",
        yaxis={"title": f"papers per {grain}"},
        **_BASE_LAYOUT,
        height=260,
        margin={"l": 60, "r": 20, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def sparkline_figure(rows: pd.DataFrame) -> go.Figure:
    """A tiny share-over-time line with its interval, for tables of rising and fading topics.

    Leading thin periods are cut (:func:`readable_rows`), so the line starts with the evidence.
    """
    grain = one_grain(rows)
    rows = readable_rows(rows)
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
                customdata=list(
                    zip(
                        rows["papers"],
                        [period_text(p, grain) for p in rows["period_start"]],
                        strict=True,
                    )
                ),
                showlegend=False,
                hovertemplate=(
                    "%{customdata[1]}: %{y:.1f}% (%{customdata[0]} papers)<extra></extra>"
                ),
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


def topic_map_figure(
    points: pd.DataFrame, top_n: int = 20, pages: dict[int, str] | None = None
) -> go.Figure:
    """2-D map of sampled papers coloured by topic (WebGL); a click carries the topic's page.

    ``points`` has paper_id, x, y, topic_id, label, title. The ``top_n`` largest topics get
    their own colour and legend entry, and their name written at the median of their papers;
    the others share one grey trace. ``pages``: fit topic id -> page name (a click opens
    ``topics/<page>.html``; the topic id where missing).
    """
    page_of = pages or {}
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
                name="other topics and unassigned" if other else markup_safe(rows["label"].iloc[0]),
                marker={
                    "size": 4,
                    "opacity": 0.35 if other else 0.75,
                    "color": "#c7c7c7" if other else (_MAP_COLORS[i % len(_MAP_COLORS)]),
                },
                text=[markup_safe(str(t)[:120]) for t in rows["title"]],
                customdata=[f"topics/{page_of.get(int(t), int(t))}.html" for t in rows["topic_id"]],
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
            )
        )
    # each coloured topic's name at the middle of its papers, so the map names its clusters
    for _, rows in groups[:-1]:
        if len(rows):
            fig.add_annotation(
                x=float(rows["x"].median()),
                y=float(rows["y"].median()),
                text=html.escape(str(rows["label"].iloc[0])[:40]),
                showarrow=False,
                font={"size": 10, "color": "#222"},
                bgcolor="rgba(255,255,255,0.7)",
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
