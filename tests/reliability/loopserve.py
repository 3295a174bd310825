"""Fixed answers on 127.0.0.1: a stand-in for an OAI-PMH or arXiv API endpoint.

The server binds the loopback interface only, answers at most ``max_requests`` GETs (later
ones get HTTP 410, so a client that loops fails at once instead of hanging the test), and
shuts itself down after ``max_seconds`` even if the test never leaves its ``with`` block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-answer (a deadline, a size cap) is expected


@contextmanager
def serve(
    body: bytes | Sequence[bytes],
    *,
    headers: Mapping[str, str] | None = None,
    drip: float = 0.0,
    drip_headers: bool = False,
    max_requests: int = 50,
    max_seconds: float = 60.0,
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serve ``body`` to every GET; yields the endpoint URL and the queries received.

    Args:
        body: One answer for every request, or answers in order (the last one repeats).
        headers: Extra response headers (e.g. ``Content-Encoding: gzip``).
        drip: Seconds between single bytes of the body (0: all at once); a slow server.
        drip_headers: Drip the status line and headers too (a server that never finishes them).
        max_requests: Requests answered; later ones get HTTP 410.
        max_seconds: Lifetime of the server; it stops itself after that.

    """
    bodies = [body] if isinstance(body, bytes) else list(body)
    queries: list[dict[str, str]] = []
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            queries.append({k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()})
            n = len(queries)
            if n > max_requests:
                self.send_error(410, f"request limit of the test server ({max_requests}) reached")
                return
            answer = bodies[min(n, len(bodies)) - 1]
            head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(answer)]
            head += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
            head_bytes = b"\r\n".join(head) + b"\r\n\r\n"
            self._send(head_bytes, drip if drip_headers else 0.0)
            self._send(answer, drip)

        def _send(self, data: bytes, interval: float) -> None:
            if not interval:
                self.wfile.write(data)
                self.wfile.flush()
                return
            for i in range(len(data)):
                if stop.wait(interval):
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()

        def log_message(self, *args: object) -> None:
            pass

    httpd = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    started = time.monotonic()

    def expire() -> None:
        if not stop.wait(max_seconds):
            stop.set()
            httpd.shutdown()

    reaper = threading.Thread(target=expire, daemon=True)
    reaper.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host}:{port}/endpoint", queries
    finally:
        expired = stop.is_set() and time.monotonic() - started >= max_seconds
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        if expired:
            raise AssertionError(f"the test server outlived its {max_seconds:g} s")
