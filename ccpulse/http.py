"""``/metrics`` and ``/healthz`` on one port (contract §3), in a background thread.

prometheus-client's own ``start_http_server`` answers every path with metrics and has no
health endpoint, so this small server routes the two paths and refuses the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HealthCheck = Callable[[], tuple[bool, str]]


class MetricsServer:
    """Serves a registry; ``health`` says whether the process is doing its job, and why not."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int,
                 health: HealthCheck) -> None:
        handler = _handler(registry, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics",
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: CollectorRegistry, health: HealthCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz":
                ok, message = health()
                self._send(200 if ok else 503, "text/plain; charset=utf-8",
                           (message + "\n").encode())
            else:
                self._send(404, "text/plain; charset=utf-8", b"try /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every 15 s are not news; keep the console for alerts."""

    return Handler
