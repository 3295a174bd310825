"""HTTP for the network sources: polite pauses, retries with backoff, and ``Retry-After``.

Only the sources use this module; it is the one place the project talks to the network.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

USER_AGENT = "research-trends/0.1 (research topic trends; polite harvester)"


class SourceError(RuntimeError):
    """A source failed in a way that retrying now will not fix (the message says how)."""


class RetryableStatusError(Exception):
    """The server answered a status worth retrying (5xx, 429), maybe with ``Retry-After``."""

    def __init__(self, url: str, status: int, retry_after: float | None) -> None:
        wait = "" if retry_after is None else f" (Retry-After {retry_after:g}s)"
        super().__init__(f"{url} answered HTTP {status}{wait}")
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchPolicy:
    """How politely and how persistently to fetch.

    Attributes:
        pause: Seconds between the starts of two requests (arXiv asks for 3).
        timeout: Seconds to wait for a connection or a read.
        attempts: Tries per request, the first included.
        backoff: First wait after a failure, in seconds; it doubles each time (plus jitter).
        max_wait: Cap on any one wait, ``Retry-After`` included.

    """

    pause: float = 3.0
    timeout: float = 60.0
    attempts: int = 6
    backoff: float = 2.0
    max_wait: float = 300.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Fetcher:
    """GET with a minimum pause between requests and retries on timeouts, 5xx and 429.

    ``sleep`` and ``clock`` are injectable so tests run without waiting; ``on_retry`` hears
    one line per retry (for logs and progress).
    """

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=self.policy.timeout,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        self.sleep = sleep
        self.clock = clock
        self.on_retry = on_retry
        self.requests = 0
        self._last_start: float | None = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this fetcher made it."""
        if self._own_client:
            self.client.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.max_wait)
        base = self.policy.backoff * 2 ** (state.attempt_number - 1)
        jitter = random.uniform(0, self.policy.backoff)  # noqa: S311 (not cryptographic)
        return min(base + jitter, self.policy.max_wait)

    def _before_sleep(self, state: RetryCallState) -> None:
        if self.on_retry and state.outcome is not None:
            wait = state.next_action.sleep if state.next_action else 0.0
            self.on_retry(
                f"retry {state.attempt_number}/{self.policy.attempts - 1} in {wait:.1f}s: "
                f"{state.outcome.exception()}"
            )

    def _pause(self) -> None:
        if self._last_start is not None and self.policy.pause > 0:
            remaining = self.policy.pause - (self.clock() - self._last_start)
            if remaining > 0:
                self.sleep(remaining)
        self._last_start = self.clock()

    def _get_once(self, url: str, params: Mapping[str, object] | None) -> bytes:
        self._pause()
        self.requests += 1
        response = self.client.get(url, params=params)  # type: ignore[arg-type]
        status = response.status_code
        if status >= 500 or status == 429:
            raise RetryableStatusError(
                url, status, parse_retry_after(response.headers.get("Retry-After"))
            )
        if status >= 400:
            raise SourceError(f"{response.request.url} answered HTTP {status}")
        return response.content

    def get(self, url: str, params: Mapping[str, object] | None = None) -> bytes:
        """The body of ``GET url?params``, retried on timeouts, transport errors, 5xx and 429."""
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(
                (httpx.TimeoutException, httpx.TransportError, RetryableStatusError)
            ),
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, url, params)
        except (httpx.HTTPError, RetryableStatusError) as exc:
            raise SourceError(
                f"gave up on {url} after {self.policy.attempts} attempts: {exc}"
            ) from exc
