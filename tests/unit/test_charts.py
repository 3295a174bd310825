"""Unit tests for pipeline.report.charts: figure structure from topic_shares-shaped frames."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import pytest

from pipeline.report.charts import (
    PALETTE,
    THIN_COLOR,
    corpus_figure,
    period_text,
    readable_rows,
    share_figure,
    small_multiples_figure,
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
    # the hover names each period in its grain
    rows = _rows(frame, first_seen[0])
    assert [c[5] for c in fig.data[1].customdata] == [
        "May 2025",
        "Jun 2025",
        "Jul 2025",
        "Aug 2025",
    ]
    assert len(rows) == 4


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
        assert set(line.marker.line.color) == {PALETTE[i]}  # the ring keeps the topic's colour


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
    assert [c[5] for c in fig.data[1].customdata] == ["2025"] * 4  # every period named by year
    assert fig.layout.title.text is None


def test_period_text_names_each_grain():
    assert period_text(pd.Timestamp("2019-01-01").date(), "year") == "2019"
    assert period_text("2025-04-01", "quarter") == "2025 Q2"
    assert period_text("2025-12-01", "quarter") == "2025 Q4"
    assert period_text("2025-05-01", "month") == "May 2025"


def test_charts_refuse_to_mix_grains_on_one_axis():
    frame = topic_shares(partial=())
    mixed = frame.assign(period_grain=["year" if i % 2 else "month" for i in range(len(frame))])
    with pytest.raises(ValueError, match="one period grain"):
        share_figure(mixed)
    with pytest.raises(ValueError, match="one period grain"):
        small_multiples_figure(mixed, key="topic_id")
    corpus = _corpus().assign(period_grain="month")
    corpus.loc[corpus["source"] == "conferences", "period_grain"] = "year"
    with pytest.raises(ValueError, match="one period grain"):
        corpus_figure(corpus)


def _with_thin(frame: pd.DataFrame, thin: tuple[str, ...]) -> pd.DataFrame:
    dates = [pd.Timestamp(p).date() for p in thin]
    return frame.assign(is_thin=frame["period_start"].isin(dates))


def test_leading_thin_periods_are_cut_and_later_ones_dimmed():
    # May and June thin at the start (cut), August thin at the end (kept, grey, no band)
    frame = _with_thin(topic_shares(partial=()), ("2025-05-01", "2025-06-01", "2025-08-01"))
    fig = share_figure(frame)
    first_seen = list(dict.fromkeys(frame["topic_id"]))
    for i, topic_id in enumerate(first_seen):
        band, line = fig.data[2 * i], fig.data[2 * i + 1]
        rows = _rows(frame, topic_id).iloc[2:]  # July and August
        assert _dates(line.x) == _dates(rows["period_start"])
        assert list(line.marker.color) == [PALETTE[i], THIN_COLOR]
        assert [c[4] for c in line.customdata] == ["", "too few papers to read"]
        # the thin period's band collapses onto its share: its wide interval draws nothing
        share = list(rows["share"] * 100)
        assert list(band.y) == pytest.approx(
            [rows["ci_high"].iloc[0] * 100, share[1], share[1], rows["ci_low"].iloc[0] * 100]
        )


def test_readable_rows_keeps_a_series_that_is_thin_throughout():
    frame = _with_thin(topic_shares(partial=()), tuple(PERIODS))
    rows = frame[frame["topic_id"] == 7]
    assert len(readable_rows(rows)) == len(rows)  # nothing readable: shown whole, all grey
    not_thin = _with_thin(topic_shares(partial=()), ())
    assert len(readable_rows(not_thin[not_thin["topic_id"] == 7])) == 4


def test_small_multiples_one_panel_per_series_on_a_shared_time_axis():
    frame = _with_thin(topic_shares(partial=()), ("2025-05-01",))
    fig = small_multiples_figure(frame, key="topic_id", columns=2)
    first_seen = list(dict.fromkeys(frame["topic_id"]))
    # a band and a line per series, each pair on its own axes
    assert len(fig.data) == 2 * len(TOPICS)
    axes = [(t.xaxis, t.yaxis) for t in fig.data]
    assert axes[0::2] == axes[1::2]
    assert len(set(axes[1::2])) == len(TOPICS)
    # panel titles are the series labels, in order of first appearance
    assert [a.text for a in fig.layout.annotations] == [TOPICS[t] for t in first_seen]
    # one time axis: every x axis follows one, and the thin first month is cut everywhere
    x_axes = [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]
    assert len(x_axes) == 4  # a 2 x 2 grid for three panels
    matches = [fig.layout[k].matches for k in x_axes]
    anchors = {m for m in matches if m is not None}
    assert len(anchors) == 1 and matches.count(None) == 1  # all follow the one free axis
    for line in fig.data[1::2]:
        assert _dates(line.x) == _dates(PERIODS[1:])
        assert line.showlegend is False


def test_small_multiples_escape_labels_in_panel_titles():
    frame = topic_shares(partial=())
    frame.loc[frame["topic_id"] == 7, "label"] = "<b onmouseover=x>graphs</b>"
    fig = small_multiples_figure(frame, key="topic_id")
    titles = [a.text for a in fig.layout.annotations]
    assert "&lt;b onmouseover=x&gt;graphs&lt;/b&gt;" in titles
    assert not any("<b" in t for t in titles)
    assert not any("<b" in t.name for t in share_figure(frame).data)  # nor in trace names


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
        assert [c[0] for c in trace.customdata] == list(rows["papers_in_fit"])
    assert len({t.marker.color for t in fig.data}) == 3


def test_corpus_figure_fades_thin_periods_and_names_the_grain():
    corpus = _corpus().assign(period_grain="year", is_thin=False)
    corpus.loc[corpus["period_start"] == pd.Timestamp(PERIODS[0]).date(), "is_thin"] = True
    fig = corpus_figure(corpus)
    for trace in fig.data:
        assert list(trace.marker.opacity) == [0.35, 1.0, 1.0, 1.0]  # sorted: thin first
        assert [c[1] for c in trace.customdata] == ["2025"] * 4
    assert fig.layout.yaxis.title.text == "papers per year"


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
    assert [c[0] for c in line.customdata] == list(ordered["papers"])
    assert _dates(line.x) == _dates(ordered["period_start"])
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False


def test_source_names_and_titles_are_shown_as_text_not_markup():
    link = '<a href="https://evil.example/phish">arxiv</a>'
    corpus = _corpus().replace({"source": {"arxiv": link}})
    names = [t.name for t in corpus_figure(corpus).data]
    assert "&lt;a href=&quot;https://evil.example/phish&quot;&gt;arxiv&lt;/a&gt;" in names
    assert not any("<a" in n for n in names)
    fig = share_figure(topic_shares(), title=link)
    assert fig.layout.title.text.startswith("&lt;a href=")
