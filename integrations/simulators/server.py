"""One local HTTP server for every simulated protocol, routed by path prefix, with shared fault knobs.

`manage.py simulate` runs it for demos and `make run`; tests start it in a thread on a free port. Each protocol
module provides a handler with `prefix` and `handle(request) -> SimResponse`; the server adds latency, injected
server errors, throttling and garbled bodies as the knobs say, then lets the protocol answer.
"""

import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson


@dataclass
class Faults:
    """What goes wrong, and how often; rates are fractions of requests (0.05 = 5 %)."""

    error_rate: float = 0.0  # HTTP 500/502/503
    throttle_rate: float = 0.0  # the protocol's own rate-limit answer
    garbage_rate: float = 0.0  # HTTP 200 with a body that is not valid JSON
    timeout_rate: float = 0.0  # the answer comes only after `timeout_seconds`, past a sensible client timeout
    timeout_seconds: float = 2.0
    latency_ms: int = 0
    down: bool = False  # every request answers 503
    modify_between_pages: bool = False  # an order of a later page changes while a window is being paged
    duplicate_across_pages: bool = False  # the last order of a page is repeated on the next page
    seed: int = 11


@dataclass
class SimRequest:
    method: str
    path: str  # without the protocol prefix
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """Query and url-encoded body parameters together, as the TOP and JOS gateways read them."""
        params = dict(self.query)
        if self.body and "json" not in self.headers.get("content-type", ""):
            params.update({k: v[-1] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()})
        return params

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> "SimResponse":
        body = dumps_json(data)
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


# Times, dataclasses and anything else JSON lacks are written as str() would, as json.dumps(default=str) does.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps_json(data: Any) -> bytes:
    """UTF-8 JSON of an answer: orjson (a page of 100 orders is encoded several times faster), or the standard
    library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(data, default=str, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, default=str).encode()


class ProtocolHandler(Protocol):
    prefix: str
    faults_apply: bool

    def handle(self, request: SimRequest) -> SimResponse: ...

    def throttled(self) -> SimResponse:
        """The protocol's own answer when a caller is over its rate limit."""
        ...


class FaultInjector:
    """Decides, deterministically from its seed, which requests fail and how."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """ "down", "error", "throttle", "garbage" or None for a request."""
        faults = self.faults
        if faults.down:
            return "down"
        with self._lock:
            roll = self._random.random()
        if roll < faults.error_rate:
            return "error"
        roll -= faults.error_rate
        if roll < faults.throttle_rate:
            return "throttle"
        roll -= faults.throttle_rate
        if roll < faults.garbage_rate:
            return "garbage"
        roll -= faults.garbage_rate
        if roll < faults.timeout_rate:
            return "timeout"
        return None


@dataclass
class RequestLog:
    """What the simulators were asked, for tests and the demo."""

    count: int = 0
    by_prefix: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, prefix: str) -> None:
        with self.lock:
            self.count += 1
            self.by_prefix[prefix] = self.by_prefix.get(prefix, 0) + 1


class SimulatorApp:
    """The WSGI application: control endpoint, fault knobs, then the protocol handler for the path."""

    def __init__(self, handlers: list[ProtocolHandler], faults: Faults | None = None):
        self.handlers = sorted(handlers, key=lambda handler: len(handler.prefix), reverse=True)
        self.faults = faults or Faults()
        # Handlers that implement page-level knobs themselves read the same Faults object the control endpoint sets.
        for handler in handlers:
            if hasattr(handler, "faults"):
                handler.faults = self.faults
        self.injector = FaultInjector(self.faults)
        self.log = RequestLog()

    def set_faults(self, **knobs: Any) -> Faults:
        for name, value in knobs.items():
            if not hasattr(self.faults, name):
                raise ValueError(f"unknown fault knob {name!r}")
            setattr(self.faults, name, type(getattr(self.faults, name))(value))
        self.injector = FaultInjector(self.faults)
        return self.faults

    def __call__(self, environ, start_response):
        response = self.dispatch(environ)
        reason = HTTPStatus(response.status).phrase
        headers = [("Content-Length", str(len(response.body))), *response.headers.items()]
        start_response(f"{response.status} {reason}", headers)
        return [response.body]

    def dispatch(self, environ) -> SimResponse:
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        if path == "/_control/faults":
            if environ["REQUEST_METHOD"] == "POST":
                try:
                    self.set_faults(**json.loads(body or b"{}"))
                except (ValueError, TypeError) as exc:
                    return SimResponse.json({"error": str(exc)}, 400)
            return SimResponse.json(asdict(self.faults))
        if path == "/_control/stats":
            return SimResponse.json({"requests": self.log.count, "by_prefix": self.log.by_prefix})
        for handler in self.handlers:
            if path.startswith(handler.prefix + "/") or path == handler.prefix:
                self.log.add(handler.prefix)
                request = SimRequest(environ["REQUEST_METHOD"], path[len(handler.prefix) :], query, headers, body)
                if handler.faults_apply:
                    injected = self.inject(handler)
                    if injected is not None:
                        return injected
                return handler.handle(request)
        return SimResponse.json({"error": f"no simulator at {path}"}, 404)

    def inject(self, handler: ProtocolHandler) -> SimResponse | None:
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        fault = self.injector.draw()
        if fault == "down":
            return SimResponse(503, b"Service Unavailable", {"Content-Type": "text/plain"})
        if fault == "error":
            return SimResponse(
                random.choice([500, 502, 503]), b"<html>upstream error</html>", {"Content-Type": "text/html"}
            )
        if fault == "throttle":
            return handler.throttled()
        if fault == "timeout":
            time.sleep(self.faults.timeout_seconds)
            return SimResponse(504, b"Gateway Timeout", {"Content-Type": "text/plain"})
        if fault == "garbage":
            return SimResponse(200, b'{"response": {"trades": [{"tid": 12', {"Content-Type": "application/json"})
        return None


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def start_server(app: SimulatorApp, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingWSGIServer, str]:
    """Serve `app` in a background thread; returns the server (call .shutdown()) and its base URL."""
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopline-simulator", daemon=True
    )
    thread.start()
    return server, f"http://{host}:{server.server_port}"
