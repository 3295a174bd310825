"""The HTTP layer of the network sources: pauses, retries, backoff and Retry-After."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest
from loopback import LoopbackServer

from pipeline.sources.fetch import Fetcher, FetchPolicy, SourceError, parse_retry_after


def test_parse_retry_after_seconds_and_http_dates():
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 5 ") == 5.0
    assert parse_retry_after("Sun, 01 Jun 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 01 Jun 2025 11:00:00 GMT", now=now) == 0.0  # past: now
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def scripted(statuses: list[tuple[int, dict[str, str]]]) -> LoopbackServer:
    """A server answering the scripted statuses in order, then 200 'ok'."""
    answers = list(statuses)

    def app(path: str, query: dict[str, str]):
        if answers:
            status, headers = answers.pop(0)
            return status, headers, b"no"
        return 200, {}, b"ok"

    return LoopbackServer(app)


def test_5xx_and_429_are_retried_with_backoff_and_retry_after():
    waits: list[float] = []
    script = [(500, {}), (502, {}), (429, {"Retry-After": "11"}), (503, {"Retry-After": "999"})]
    with scripted(script) as server:
        http = Fetcher(FetchPolicy(pause=0, backoff=1.0, max_wait=60), sleep=waits.append)
        assert http.get(f"{server.base}/x", {"a": 1}) == b"ok"
        assert server.requests == [{"a": "1"}] * 5
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 3.0  # doubling, plus jitter
    assert waits[2:] == [11.0, 60.0]  # Retry-After, capped at max_wait


def test_client_errors_are_not_retried():
    with scripted([(404, {})]) as server:
        http = Fetcher(FetchPolicy(pause=0, backoff=0), sleep=lambda s: None)
        with pytest.raises(SourceError, match="HTTP 404"):
            http.get(f"{server.base}/x")
        assert len(server.requests) == 1


def test_gives_up_after_the_attempts():
    notes: list[str] = []
    with scripted([(500, {})] * 10) as server:
        http = Fetcher(
            FetchPolicy(pause=0, backoff=0, attempts=3), sleep=lambda s: None, on_retry=notes.append
        )
        with pytest.raises(SourceError, match=r"after 3 attempts: .* HTTP 500"):
            http.get(f"{server.base}/x")
        assert len(server.requests) == 3
    assert len(notes) == 2 and notes[0].startswith("retry 1/2")


def test_timeouts_are_retried():
    release = threading.Event()
    calls = []

    def app(path: str, query: dict[str, str]):
        calls.append(path)
        if len(calls) == 1:
            release.wait(timeout=5)  # longer than the client's timeout
        return 200, {}, b"late but fine"

    with LoopbackServer(app) as server:
        http = Fetcher(FetchPolicy(pause=0, backoff=0, timeout=0.2), sleep=lambda s: None)
        try:
            assert http.get(f"{server.base}/slow") == b"late but fine"
        finally:
            release.set()
    assert len(calls) == 2


def test_connection_refused_is_a_source_error():
    with LoopbackServer(lambda p, q: (200, {}, b"")) as server:
        url = f"{server.base}/x"
    http = Fetcher(FetchPolicy(pause=0, backoff=0, attempts=2), sleep=lambda s: None)
    with pytest.raises(SourceError, match="gave up") as info:
        http.get(url)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
