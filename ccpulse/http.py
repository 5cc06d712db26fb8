"""``/metrics``, ``/healthz`` and ``/readyz`` on one port (contract §3), in a background thread.

prometheus-client's own ``start_http_server`` answers every path with metrics and has no
health endpoint, so this small server routes the paths and refuses the rest. With
credentials, ``/metrics`` asks for HTTP basic auth (Prometheus' ``basic_auth`` scrape setting);
``/healthz`` (liveness: the process does its job) and ``/readyz`` (readiness: caught up with
its input) stay open for orchestrators and say nothing but "ok"/"ready" or what they wait for.
A process without a readiness of its own (the demo) answers ``/readyz`` as ``/healthz``.
``/api/v1/<scope>/<id>`` (:mod:`ccpulse.api`) answers JSON behind the same credentials as
``/metrics``: it holds the same numbers, and more of them. The web pages and their JSON
(:mod:`ccpulse.web`) say themselves which access they need.
"""

from __future__ import annotations

import base64
import hmac
import math
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from ccpulse.gzip_body import accepts_gzip, gzipped
from ccpulse.textformat import Exposition
from ccpulse.web import LazyResponse, Response, WebApp

HealthCheck = Callable[[], tuple[bool, str]]
# /metrics: a registry rendered at each scrape, or what writes the body itself given the
# scraper's address, whether to gzip it and the scraper's timeout if it said one
# (ccpulse.scrape_ahead.ScrapeAhead.body)
class MetricsBody(Protocol):
    def __call__(self, scraper: str, *, gzip: bool, timeout_s: float | None) -> bytes: ...


# Prometheus sends its scrape_timeout with every scrape
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"


MetricsSource = CollectorRegistry | MetricsBody
ScopeApi = Callable[[str, str], dict[str, Any] | None]  # (scope, id) -> document or unknown
API_PREFIX = "/api/v1/"
JSON = "application/json"


class MetricsServer:
    """Serves ``metrics``; ``health`` says whether the process is doing its job, and why
    not."""

    def __init__(self, metrics: MetricsSource, host: str, port: int,
                 health: HealthCheck, credentials: tuple[str, str] | None = None, *,
                 ready: HealthCheck | None = None, api: ScopeApi | None = None,
                 web: WebApp | None = None) -> None:
        handler = _handler(_metrics_body(metrics), health, credentials, ready or health, api,
                           web=web)
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


def _metrics_body(metrics: MetricsSource) -> MetricsBody:
    if not isinstance(metrics, CollectorRegistry):
        return metrics
    exposition = Exposition()  # label text kept between scrapes
    scraping = threading.Lock()

    def body(_scraper: str, *, gzip: bool, timeout_s: float | None) -> bytes:
        with scraping:  # one scrape at a time: they share the kept text
            text = exposition.render(metrics.collect())
        return gzipped(text) if gzip else text
    return body


def scrape_timeout_s(header: str | None) -> float | None:
    """The scraper's timeout from its header, in seconds; None where it gave none or no
    positive finite number (then nothing is cut short for it)."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if 0 < seconds < math.inf else None  # nan and inf fail both


def _handler(metrics_body: MetricsBody, health: HealthCheck,
             credentials: tuple[str, str] | None, ready: HealthCheck, api: ScopeApi | None,
             *, web: WebApp | None = None) -> type[BaseHTTPRequestHandler]:
    probes = {"/healthz": health, "/readyz": ready}
    expected = None if credentials is None else (
        "Basic " + base64.b64encode(":".join(credentials).encode()).decode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            page = web.handle(path, query) if web is not None else None
            if page is not None:
                self._page(page)
            elif path == "/metrics":
                if self._authorized():
                    gzip = accepts_gzip(self.headers.get("Accept-Encoding", ""))
                    timeout_s = scrape_timeout_s(self.headers.get(SCRAPE_TIMEOUT_HEADER))
                    self._send(200, CONTENT_TYPE_LATEST,
                               metrics_body(self.client_address[0], gzip=gzip,
                                            timeout_s=timeout_s),
                               encoding="gzip" if gzip else None)
            elif api is not None and path.startswith(API_PREFIX):
                if self._authorized():
                    self._api(path.removeprefix(API_PREFIX))
            elif path in probes:
                ok, message = probes[path]()
                self._send(200 if ok else 503, "text/plain; charset=utf-8",
                           (message + "\n").encode())
            else:
                self._send(404, "text/plain; charset=utf-8",
                           b"try /wallboard, /metrics, /healthz, /readyz or "
                           b"/api/v1/agent/ID\n")

        def _page(self, page: Response) -> None:
            if page.needs_auth and not self._authorized():
                return
            if isinstance(page, LazyResponse):
                page = page.render()
            if page.status == 302:
                self.send_response(302)
                self.send_header("Location", page.body.decode().strip())
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(page.status, page.content_type, page.body)

        def _authorized(self) -> bool:
            """True, or a 401 asking for basic auth has been sent."""
            given = self.headers.get("Authorization", "")
            if expected is None or hmac.compare_digest(given.encode(), expected.encode()):
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="ccpulse"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def _api(self, rest: str) -> None:
            scope, _, ident = rest.partition("/")
            document = api(scope, unquote(ident)) if ident else None  # type: ignore[misc]
            if document is None:
                self._send(404, JSON, orjson.dumps({"error": "unknown scope or id", "try": [
                    f"{API_PREFIX}{name}/ID" for name in ("agent", "team", "queue",
                                                          "channel")]}))
                return
            self._send(200, JSON, orjson.dumps(document))

        def _send(self, status: int, content_type: str, body: bytes, *,
                  encoding: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if encoding is not None:
                self.send_header("Content-Encoding", encoding)
            # pages name agents: never cached by a shared proxy or kept by a browser
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every 15 s are not news; keep the console for alerts."""

    return Handler
