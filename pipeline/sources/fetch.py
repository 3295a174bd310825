"""HTTP for the network sources: polite pauses, retries with backoff, and ``Retry-After``.

Only the sources use this module; it is the one place the project talks to the network.
A response is bounded twice: in time (``FetchPolicy.timeout`` covers the whole response,
from the request to its last byte, however slowly the server drips it) and in size
(``FetchPolicy.max_bytes`` of decompressed body, so a gzip bomb stops at the cap).
"""

from __future__ import annotations

import os
import random
import socket
import threading
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


class ResponseTooLargeError(SourceError):
    """The response body is larger than the policy allows (after decompression)."""


class DeadlineError(httpx.TimeoutException):
    """The whole response took longer than the policy's timeout (retried like any timeout)."""


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
        timeout: Seconds one response may take in all, from the request to its last byte
            (connecting, the headers and the body together; a server that sends a byte now
            and then is cut off here).
        attempts: Tries per request, the first included.
        backoff: First wait after a failure, in seconds; it doubles each time (plus jitter).
        max_wait: Cap on any one wait, ``Retry-After`` included.
        max_bytes: Largest body accepted, counted after decompression (a real OAI-PMH page
            is about 1.7 MB, an API page of 2,000 entries about 5 MB).

    """

    pause: float = 3.0
    timeout: float = 60.0
    attempts: int = 6
    backoff: float = 2.0
    max_wait: float = 300.0
    max_bytes: int = 64 * 2**20


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


def _shut(sock: socket.socket) -> None:
    """Shut a socket down from another thread, so that a read blocked on it returns at once.

    The shutdown goes through a duplicate of the descriptor: it acts on the connection
    itself, and leaves the owner's socket object (TLS state included) untouched.
    """
    try:
        fd = sock.fileno()
        if fd < 0:  # closed already
            return
        with socket.socket(fileno=os.dup(fd)) as dup:
            dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed meanwhile: nothing left to cut


class _Watchdog:
    """Cuts the connections of one request when its deadline passes (real time).

    httpx's timeouts bound each read, not a response: a server that sends one byte within
    every read timeout holds a client forever, in the headers as in the body. The watchdog
    learns the request's sockets from httpcore's ``trace`` events (and from the response's
    ``network_stream``) and shuts them down at the deadline, which ends the blocked read.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disarm()

    def disarm(self) -> None:
        """Stop watching (before the connection goes back to the pool or is closed)."""
        self._timer.cancel()
        with self._lock:
            self._done = True
            self._sockets.clear()

    def trace(self, event: str, info: dict) -> None:
        """Note the socket of each new connection (httpcore's ``trace`` hook)."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: object) -> None:
        """Watch the socket of an httpcore network stream (None: nothing to watch)."""
        get = getattr(stream, "get_extra_info", None)
        sock = get("socket") if get else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._done:
                return
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


class Fetcher:
    """GET with a minimum pause between requests and retries on timeouts, 5xx and 429.

    Each response is bounded by the policy's ``timeout`` in all and by ``max_bytes`` of
    decompressed body. ``sleep`` and ``clock`` are injectable so tests run without waiting
    (the deadline is checked on ``clock`` as bytes arrive; a watchdog on real time cuts a
    read that blocks past it); ``on_retry`` hears one line per retry (for logs and progress).
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
            # a fresh connection per request lets the watchdog see its socket from the start
            # (a pooled one is only seen once its headers are in); with a pause of seconds
            # between requests, the handshake costs nothing that matters
            limits=httpx.Limits(max_keepalive_connections=0),
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
        deadline = self.clock() + self.policy.timeout
        with _Watchdog(self.policy.timeout) as watchdog:
            try:
                with self.client.stream(
                    "GET",
                    url,
                    params=params,  # type: ignore[arg-type]
                    extensions={"trace": watchdog.trace},
                ) as response:
                    watchdog.watch(response.extensions.get("network_stream"))
                    status = response.status_code
                    if status >= 500 or status == 429:
                        raise RetryableStatusError(
                            url, status, parse_retry_after(response.headers.get("Retry-After"))
                        )
                    if status >= 400:
                        raise SourceError(f"{response.request.url} answered HTTP {status}")
                    body = self._read(response, url, deadline)
                    watchdog.disarm()
                    return body
            except httpx.TransportError:
                if watchdog.fired:
                    raise self._late(url) from None
                raise

    def _late(self, url: str) -> DeadlineError:
        return DeadlineError(
            f"{url}: no complete response within {self.policy.timeout:g}s "
            "(the timeout bounds the whole response)"
        )

    def _read(self, response: httpx.Response, url: str, deadline: float) -> bytes:
        """The decompressed body, within ``max_bytes`` and before ``deadline`` on the clock."""
        cap = self.policy.max_bytes
        too_large = f"{url}: the response holds more than {cap:,} bytes (FetchPolicy.max_bytes)"
        declared = response.headers.get("Content-Length", "")
        plain = "Content-Encoding" not in response.headers
        if plain and declared.isdigit() and int(declared) > cap:
            raise ResponseTooLargeError(too_large)
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise ResponseTooLargeError(too_large + ", decompressed")
            if self.clock() > deadline:
                raise self._late(url)
            chunks.append(chunk)
        return b"".join(chunks)

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
        except httpx.InvalidURL as exc:  # e.g. a query past httpx's 65,536 characters
            raise SourceError(f"{url}: cannot request an invalid URL ({exc})") from None
        except (httpx.HTTPError, RetryableStatusError) as exc:
            raise SourceError(
                f"gave up on {url} after {self.policy.attempts} attempts: {exc}"
            ) from exc
