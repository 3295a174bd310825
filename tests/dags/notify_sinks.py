"""Loopback targets for notifications: a webhook that records POSTs, an SMTP server that keeps
mails. Both listen on 127.0.0.1, port 0 (any free one), in daemon threads."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookSink:
    """Records the JSON body of every POST; answers 200."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def __enter__(self) -> WebhookSink:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, count: int = 1, timeout: float = 120.0) -> list[dict]:
        """The posts, once there are ``count`` (a bound so that a broken test fails)."""
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.posts


class SmtpSink:
    """A minimal SMTP server (RFC 5321's HELO/EHLO, MAIL, RCPT, DATA, QUIT) keeping each mail."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], Message]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                sender, recipients = "", []
                self.reply("220 sink ESMTP")
                while raw := self.rfile.readline():
                    command = raw.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in {"HELO", "EHLO"}:
                        self.reply("250 sink")
                    elif verb == "MAIL":
                        sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip(" <>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        lines = []
                        while (line := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        sink.mails.append(
                            (
                                sender,
                                recipients,
                                message_from_bytes(b"".join(lines), policy=policy.default),
                            )
                        )
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SmtpSink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
