"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP webhook endpoint.

Both record what they accept and can be told to refuse the next N deliveries
(SMTP 451, HTTP 500) to test that failures delay delivery and lose nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .services import free_port


@dataclass
class SmtpSink:
    """Accepted mails as (recipient, subject) and the count of refused ones."""

    port: int = 0
    refuse_next: int = 0
    accepted: list[tuple[str, str]] = field(default_factory=list)
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            subject = message_from_bytes(envelope.content)["Subject"]
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((rcpt, str(subject)))
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class WebhookSink:
    port: int = 0
    refuse_next: int = 0
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if sink.refuse_next > 0:
                sink.refuse_next -= 1
                sink.refused += 1
                self.send_response(500)
                self.end_headers()
                return
            sink.received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", sink.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
