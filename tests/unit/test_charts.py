"""Unit tests for pipeline.report.charts: figure structure from topic_shares-shaped frames."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import pytest

from pipeline.report.charts import (
    PALETTE,
    corpus_figure,
    share_figure,
    sparkline_figure,
)

PERIODS = ["2025-05-01", "2025-06-01", "2025-07-01", "2025-08-01"]
TOPICS = {7: "graph neural networks", 2: "diffusion models", 11: "LLM agents"}


def topic_shares(partial=("2025-05-01",), shuffle=True) -> pd.DataFrame:
    """A frame shaped like the topic_shares mart for one source, monthly grain."""
    rows = []
    for t_i, (topic_id, label) in enumerate(TOPICS.items()):
        for p_i, period in enumerate(PERIODS):
            denominator = 400 + 100 * p_i
            papers = 10 + 3 * t_i + 2 * p_i
            share = papers / denominator
            rows.append(
                {
                    "source": "arxiv",
                    "period_grain": "month",
                    "period_start": pd.Timestamp(period).date(),
                    "topic_id": topic_id,
                    "label": label,
                    "papers": papers,
                    "denominator": denominator,
                    "share": share,
                    "ci_low": share * 0.7,
                    "ci_high": share * 1.4,
                    "is_partial": period in partial,
                }
            )
    frame = pd.DataFrame(rows)
    if shuffle:  # the chart must sort by period itself
        frame = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    return frame


def _rows(frame: pd.DataFrame, topic_id: int) -> pd.DataFrame:
    return frame[frame["topic_id"] == topic_id].sort_values("period_start")


def _dates(values) -> list[pd.Timestamp]:
    return list(pd.to_datetime(pd.Series(list(values))))


# --------------------------------------------------------------------------------------------
# share_figure
# --------------------------------------------------------------------------------------------


def test_share_figure_has_band_and_line_per_topic():
    frame = topic_shares()
    fig = share_figure(frame, title="Topic shares")
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 2 * len(TOPICS)
    bands, lines = fig.data[0::2], fig.data[1::2]
    assert all(b.fill == "toself" and b.hoverinfo == "skip" for b in bands)
    assert all(b.showlegend is False for b in bands)
    assert all(ln.mode == "lines+markers" for ln in lines)
    # one legend group per topic, shared by its band and its line
    for band, line in zip(bands, lines, strict=True):
        assert band.legendgroup == line.legendgroup
    assert len({ln.legendgroup for ln in lines}) == len(TOPICS)
    # topics in order of first appearance, labelled, each with its own colour
    first_seen = list(dict.fromkeys(frame["topic_id"]))
    assert [ln.name for ln in lines] == [TOPICS[t] for t in first_seen]
    assert [ln.line.color for ln in lines] == PALETTE[: len(TOPICS)]
    assert fig.layout.title.text == "Topic shares"


def test_share_figure_line_is_share_in_percent_sorted_by_period():
    frame = topic_shares()
    fig = share_figure(frame)
    first_seen = list(dict.fromkeys(frame["topic_id"]))
    for i, topic_id in enumerate(first_seen):
        rows = _rows(frame, topic_id)
        line = fig.data[2 * i + 1]
        assert _dates(line.x) == _dates(rows["period_start"])
        assert list(line.y) == pytest.approx(list(rows["share"] * 100))


def test_share_figure_customdata_carries_papers_and_denominators():
    frame = topic_shares()
    fig = share_figure(frame)
    first_seen = list(dict.fromkeys(frame["topic_id"]))
    for i, topic_id in enumerate(first_seen):
        rows = _rows(frame, topic_id)
        custom = [list(c) for c in fig.data[2 * i + 1].customdata]
        assert [c[0] for c in custom] == list(rows["papers"])
        assert [c[1] for c in custom] == list(rows["denominator"])
        assert [c[2] for c in custom] == pytest.approx(list(rows["ci_low"] * 100))
        assert [c[3] for c in custom] == pytest.approx(list(rows["ci_high"] * 100))
        assert [c[4] for c in custom] == ["partial period" if p else "" for p in rows["is_partial"]]
    # the hover text names the papers behind the point
    template = fig.data[1].hovertemplate
    assert "%{customdata[0]} of %{customdata[1]} papers" in template
    assert "%b %Y" in template  # monthly grain


def test_share_figure_band_covers_interval_in_percent():
    frame = topic_shares()
    fig = share_figure(frame)
    first_seen = list(dict.fromkeys(frame["topic_id"]))
    for i, topic_id in enumerate(first_seen):
        rows = _rows(frame, topic_id)
        band = fig.data[2 * i]
        expected_y = list(rows["ci_high"] * 100) + list(rows["ci_low"] * 100)[::-1]
        assert list(band.y) == pytest.approx(expected_y)
        x = _dates(rows["period_start"])
        assert _dates(band.x) == x + x[::-1]
        # the line lies inside its band
        line = fig.data[2 * i + 1]
        n = len(rows)
        for k, y in enumerate(line.y):
            assert band.y[2 * n - 1 - k] <= y <= band.y[k]


def test_share_figure_partial_periods_get_open_markers():
    frame = topic_shares(partial=("2025-05-01", "2025-08-01"))
    fig = share_figure(frame)
    for i, line in enumerate(fig.data[1::2]):
        colors = list(line.marker.color)
        assert colors == ["white", PALETTE[i], PALETTE[i], "white"]
        assert line.marker.line.color == PALETTE[i]  # the ring keeps the topic's colour


def test_share_figure_no_partial_periods_all_filled():
    fig = share_figure(topic_shares(partial=()))
    for i, line in enumerate(fig.data[1::2]):
        assert "white" not in list(line.marker.color)
        assert set(line.marker.color) == {PALETTE[i]}


def test_share_figure_single_topic_and_year_grain():
    frame = topic_shares(partial=())
    frame = frame[frame["topic_id"] == 2].assign(period_grain="year")
    fig = share_figure(frame)
    assert len(fig.data) == 2
    assert "%{x|%Y}" in fig.data[1].hovertemplate
    assert fig.layout.title.text is None


def test_share_figure_is_json_serialisable():
    fig = share_figure(topic_shares())
    spec = json.loads(fig.to_json())
    assert len(spec["data"]) == 2 * len(TOPICS)


# --------------------------------------------------------------------------------------------
# corpus_figure
# --------------------------------------------------------------------------------------------


def _corpus() -> pd.DataFrame:
    rows = []
    for source, base in (("conferences", 900), ("arxiv", 3000), ("oai", 50)):
        for p_i, period in enumerate(reversed(PERIODS)):
            rows.append(
                {
                    "source": source,
                    "period_start": pd.Timestamp(period).date(),
                    "papers": base + p_i,
                    "papers_in_fit": base + p_i - 5,
                }
            )
    return pd.DataFrame(rows)


def test_corpus_figure_one_bar_per_source():
    corpus = _corpus()
    fig = corpus_figure(corpus)
    assert len(fig.data) == 3
    assert all(isinstance(t, go.Bar) for t in fig.data)
    assert [t.name for t in fig.data] == ["arxiv", "conferences", "oai"]  # sorted by source
    assert fig.layout.barmode == "stack"
    for trace in fig.data:
        rows = corpus[corpus["source"] == trace.name].sort_values("period_start")
        assert _dates(trace.x) == _dates(rows["period_start"])
        assert list(trace.y) == list(rows["papers"])
        assert list(trace.customdata) == list(rows["papers_in_fit"])
    assert len({t.marker.color for t in fig.data}) == 3


def test_corpus_figure_single_source():
    corpus = _corpus()
    fig = corpus_figure(corpus[corpus["source"] == "arxiv"])
    assert len(fig.data) == 1 and fig.data[0].name == "arxiv"


# --------------------------------------------------------------------------------------------
# sparkline_figure
# --------------------------------------------------------------------------------------------


def test_sparkline_figure_band_and_line():
    frame = topic_shares()
    rows = frame[frame["topic_id"] == 11]
    fig = sparkline_figure(rows)
    assert len(fig.data) == 2
    band, line = fig.data
    ordered = rows.sort_values("period_start")
    assert band.fill == "toself"
    assert list(band.y) == pytest.approx(
        list(ordered["ci_high"] * 100) + list(ordered["ci_low"] * 100)[::-1]
    )
    assert list(line.y) == pytest.approx(list(ordered["share"] * 100))
    assert list(line.customdata) == list(ordered["papers"])
    assert _dates(line.x) == _dates(ordered["period_start"])
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
