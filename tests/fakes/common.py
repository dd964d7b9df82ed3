"""What the two gateway fakes share: a real HTTP server on loopback, a ledger
in the sandbox ledger's shape (so tests/helpers/agreement.py reads every
acquirer alike), the issuer behind the gateway, and held answers.

The fakes stand in for the gateway, not for the card's issuer: the
authorisation decision is the sandbox issuer's (mpos_cli.gateway.sandbox.
issuer: P2PE decryption under the documented test BDK, the ARQC checked, an
ARPC made, the outcome table of SPEC §7 by the cents of the total), as a
real gateway forwards to the issuer and passes its answer back. With
``issuer_authentication=False`` the fake passes on no issuer authentication
data (no tag 91), as many real gateways do.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Entry:
    """One operation the gateway holds, keyed by the client's reference."""

    reference: str
    gateway_id: str
    kind: str  # sale | refund | void
    response_code: str  # ISO 8583
    total_minor: int
    currency: str
    submitted_at: datetime
    auth_code: str | None = None
    original_reference: str | None = None
    refunded_minor: int = 0
    voided: bool = False
    voided_by: str | None = None
    settled_batch: str | None = None
    deferred: bool = False  # sent as a deferred authorisation (stored offline, forwarded later)
    last_four: str = ""
    scheme: str = ""
    emv_response: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.response_code == "00"

    @property
    def status(self) -> str:
        if not self.approved:
            return "declined"
        if self.voided:
            return "reversed"
        if self.kind == "sale" and self.refunded_minor:
            return "refunded" if self.refunded_minor >= self.total_minor else "partially_refunded"
        if self.settled_batch:
            return "settled"
        return "approved"

    def as_ledger_row(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "acquirer_id": self.gateway_id, "type": self.kind, "status": self.status,
            "response_code": self.response_code, "total_minor": self.total_minor, "currency": self.currency,
            "refunded_minor": self.refunded_minor, "voided_by": self.voided_by, "auth_code": self.auth_code,
            "original_reference": self.original_reference, "deferred": self.deferred,
        }


class FakeGateway:
    """State and issuer of a fake gateway; subclasses speak the vendor's API."""

    name = "fake"

    def __init__(self, *, issuer_authentication: bool = True, hold_seconds: float = 30.0) -> None:
        self.lock = threading.RLock()
        self.entries: dict[str, Entry] = {}
        self.by_id: dict[str, Entry] = {}
        self.issuer_authentication = issuer_authentication
        self.hold_seconds = hold_seconds
        self.requests: list[tuple[str, str]] = []  # (method, path or operation) of every request seen
        self.refused: list[str] = []  # why requests were refused (signature, schema ...)
        self._ids = itertools.count(7_000_000_001)
        self.stopping = threading.Event()

    def credentials(self) -> dict[str, str]:
        """``MPOS_GATEWAY_KEY`` and the vendor's ids that reach this fake, as mpos reads them."""
        raise NotImplementedError

    def new_id(self) -> str:
        return str(next(self._ids))

    def add(self, entry: Entry) -> Entry:
        with self.lock:
            self.entries.setdefault(entry.reference, entry)
            self.by_id[entry.gateway_id] = entry
        return entry

    def ledger(self) -> list[dict[str, Any]]:
        with self.lock:
            return [entry.as_ledger_row() for entry in self.entries.values() if entry.kind != "timeout-void"]

    def entry(self, reference: str) -> dict[str, Any] | None:
        return next((row for row in self.ledger() if row["reference"] == reference), None)

    def settle_pending(self) -> str:
        """The gateway's daily cut-off: every approved, unsettled operation joins a new batch."""
        batch = self.new_id()
        with self.lock:
            for entry in self.entries.values():
                if entry.approved and not entry.voided and not entry.settled_batch and entry.kind in ("sale", "refund"):
                    entry.settled_batch = batch
                    entry.extra["settled_at"] = datetime.now(timezone.utc)
        return batch

    def foreign_sale(self, total_minor: int, currency: str = "EUR", reference: str = "OTHER-TERMINAL-1") -> Entry:
        """A sale taken outside this terminal (another device, the gateway's
        virtual terminal): the acquirer holds money the journal never saw."""
        return self.add(Entry(reference=reference, gateway_id=self.new_id(), kind="sale", response_code="00",
                              total_minor=total_minor, currency=currency, submitted_at=datetime.now(timezone.utc),
                              auth_code="FOREIGN"))

    # -- the issuer behind the gateway --------------------------------------------------

    def issuer_decision(self, *, total_minor: int, entry_mode: str, card_blob: str, emv: dict[str, str],
                        pin_blob: str | None, deferred: bool = False):
        from mpos_cli.gateway.sandbox import issuer

        cvm = "online_pin" if pin_blob else "none"
        decision = issuer.decide(
            total_minor=total_minor, entry_mode=entry_mode, cvm=cvm, encrypted_card_data=card_blob,
            encrypted_pin_block=pin_blob, emv=emv, deferred=deferred, captured_on=date.today(),
        )
        if not self.issuer_authentication:
            decision.emv.pop("91", None)
        return decision

    def hold(self) -> bool:
        """Hold an answer after commit (a total ending in .98); False when the fake stops meanwhile."""
        if self.hold_seconds > 0:
            self.stopping.wait(self.hold_seconds)
        return not self.stopping.is_set()

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        """(status, headers, body, hold after commit)."""
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: "FakeServer"

    def log_message(self, format, *args) -> None:  # noqa: A002
        return None

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            status, reply_headers, payload, hold = self.server.fake.handle(method, self.path, headers, body)
        except Exception as exc:  # answered, never a dropped connection
            status, reply_headers, payload, hold = 500, {"Content-Type": "text/plain"}, repr(exc).encode(), False
        if hold and not self.server.fake.hold():
            self.close_connection = True
            return
        try:
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")


class FakeServer(ThreadingHTTPServer):
    """The fake on 127.0.0.1: an ephemeral port, or ``port`` to come back on
    the port it had before it was stopped (its state lives in ``fake``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeGateway, port: int = 0) -> None:
        self.fake = fake
        fake.stopping.clear()
        super().__init__(("127.0.0.1", port), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.fake.stopping.set()
        self.shutdown()
        self.server_close()
