"""The sandbox acquirer over HTTP: standard library only, so embedding it in
every CLI run costs a socket and a thread, not a framework import.

Routes (``man 7 mpos-gateway-api``)::

    GET  /v1/health
    POST /v1/authorisations            Idempotency-Key: <reference>
    POST /v1/refunds                   Idempotency-Key: <reference>
    POST /v1/voids                     Idempotency-Key: <reference>
    POST /v1/reversals                 Idempotency-Key: <reference reversed>
    GET  /v1/transactions/<reference>  (lookup)
    GET  /v1/transactions              (ledger)
    POST /v1/batches                   Idempotency-Key: <batch_reference>
    POST /v1/seed                      (sandbox only: bulk approved sales)
"""

from __future__ import annotations

import hmac
import json
import os
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from mpos_cli.env_seconds import seconds_from_env
from mpos_cli.gateway.sandbox.acquirer import ApiError, Reply, SandboxAcquirer
from mpos_cli.gateway.sandbox.store import SandboxStore, database_path

DEFAULT_HOLD_SECONDS = 60.0
HOLD_ENV = "MPOS_SANDBOX_HOLD_SECONDS"
MAX_BODY = 1 << 20  # 1 MiB: one authorisation is a few KiB
MAX_SEED_BODY = 1 << 28  # 256 MiB: 100,000 seeded sales are about 30 MiB


def hold_seconds_from(environ: dict[str, str]) -> float:
    """The .98 hold: 60 s (SPEC §7) unless MPOS_SANDBOX_HOLD_SECONDS says otherwise."""
    return seconds_from_env(environ, HOLD_ENV, default=DEFAULT_HOLD_SECONDS, most=3600)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a held answer never keeps a process alive
    allow_reuse_address = True

    def __init__(self, address, acquirer: SandboxAcquirer, *, key: str | None, hold_seconds: float,
                 log: Callable[[str], None] | None) -> None:
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.acquirer = acquirer
        self.key = key
        self.hold_seconds = hold_seconds
        self.log = log
        self.stopping = threading.Event()
        super().__init__(address, SandboxHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for a whole payment
    # Headers and body go out in two writes: with Nagle on, the body waits for
    # the client's delayed ACK (40 ms per answer on Linux).
    disable_nagle_algorithm = True
    server_version = "mpos-sandbox/1"
    sys_version = ""
    server: SandboxHTTPServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # ---------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        try:
            reply = self._route(method, self.path.split("?", 1)[0])
        except ApiError as exc:
            reply = Reply(exc.status, exc.body())
        except sqlite3.OperationalError as exc:
            # Locked past the busy timeout, disk full: the client must treat it as unknown.
            reply = Reply(503, {"error": "unavailable", "message": f"ledger unavailable: {exc}"})
        except Exception as exc:  # answered, never a dropped connection
            reply = Reply(500, {"error": "internal", "message": f"internal error: {type(exc).__name__}"})
        if reply.hold and self.server.hold_seconds > 0:
            # SPEC §7 .98: recorded and committed already; the answer is late.
            self.server.stopping.wait(self.server.hold_seconds)
            if self.server.stopping.is_set():
                self.close_connection = True
                return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        payload = json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="mpos-sandbox"')
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out on a hold)

    def _authorised(self) -> bool:
        if self.server.key is None:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.server.key.encode())

    def _body(self, limit: int) -> dict:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ApiError(411, "length_required", "send the body with a Content-Length")
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise ApiError(411, "length_required", "send the body with a Content-Length")
        try:
            length = int(length_header)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number") from None
        if length > limit:
            self.close_connection = True  # the unread body would poison the connection
            raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "bad_request", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "the body must be a JSON object")
        return body

    def _route(self, method: str, path: str) -> Reply:
        acquirer = self.server.acquirer
        if path == "/v1/health" and method == "GET":
            return acquirer.health()
        routes = {
            "/v1/authorisations": ("POST",),
            "/v1/refunds": ("POST",),
            "/v1/voids": ("POST",),
            "/v1/reversals": ("POST",),
            "/v1/batches": ("POST",),
            "/v1/seed": ("POST",),
            "/v1/transactions": ("GET",),
            "/v1/health": ("GET",),
        }
        lookup = path.startswith("/v1/transactions/") and len(path) > len("/v1/transactions/")
        allowed = ("GET",) if lookup else routes.get(path)
        if allowed is None:
            raise ApiError(404, "not_found", f"no such endpoint {path}")
        if method not in allowed:
            raise ApiError(405, "method_not_allowed", f"{path} takes {', '.join(allowed)}")
        if method == "POST" and path != "/v1/seed":
            body = self._body(MAX_BODY)  # read before answering 401, so keep-alive stays in step
        elif method == "POST":
            if self._authorised():
                body = self._body(MAX_SEED_BODY)
            else:
                self.close_connection = True  # a bulk body is not read for a stranger
        if not self._authorised():
            raise ApiError(401, "unauthorised", "missing or wrong bearer key")
        key = self.headers.get("Idempotency-Key")
        if lookup:
            return acquirer.lookup(unquote(path[len("/v1/transactions/"):]))
        if path == "/v1/transactions":
            return acquirer.ledger()
        if path == "/v1/authorisations":
            return acquirer.authorise(key, path, body)
        if path == "/v1/refunds":
            return acquirer.refund(key, path, body)
        if path == "/v1/voids":
            return acquirer.void(key, path, body)
        if path == "/v1/reversals":
            return acquirer.reverse(key, body)
        if path == "/v1/batches":
            return acquirer.close_batch(key, body)
        return acquirer.seed(body)


def make_server(host: str, port: int, data_dir: Path, *, key: str | None = None, hold_seconds: float | None = None,
                log: Callable[[str], None] | None = None) -> SandboxHTTPServer:
    store = SandboxStore(database_path(data_dir))
    hold = hold_seconds_from(dict(os.environ)) if hold_seconds is None else hold_seconds
    return SandboxHTTPServer((host, port), SandboxAcquirer(store), key=key or None, hold_seconds=hold, log=log)


def serve(host: str, port: int, home: Path, *, key: str | None = None, hold_seconds: float | None = None,
          log: Callable[[str], None] | None = None, ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (``mpos sandbox serve``); ``ready`` gets the base URL once listening."""
    server = make_server(host, port, home, key=key, hold_seconds=hold_seconds, log=log)
    try:
        if ready is not None:
            ready(server.base_url)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        server.server_close()


def start_embedded(data_dir: Path, *, key: str | None = None,
                   hold_seconds: float | None = None) -> tuple[str, Callable[[], None]]:
    """A sandbox acquirer on 127.0.0.1 and an ephemeral port, in a daemon thread.

    Returns (base URL, stop). ``stop`` releases held answers, stops the loop
    and closes the socket; it is safe to call twice.
    """
    server = make_server("127.0.0.1", 0, data_dir, key=key, hold_seconds=hold_seconds)
    # A short poll interval: stop() waits for the loop to notice, and the CLI waits for stop().
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="mpos-sandbox-acquirer", daemon=True
    )
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.stopping.set()
        server.shutdown()
        server.server_close()

    return server.base_url, stop
