"""Helpers for the gateway tests: the sandbox acquirer as a real server on
loopback, and authorisation requests built with the simulated card's own
cryptography (emv_sandbox), the way the reader builds them."""

from __future__ import annotations

import contextlib
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from mpos_cli.drivers.sim import test_material
from mpos_cli.drivers.sim import encryption
from mpos_cli.gateway.base import AuthorisationRequest
from tests.helpers.loopback import LoopbackServer

_counter = iter(range(1, 10**9))


def new_reference(prefix: str = "T") -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter):06d}"


def card_request(
    amount_minor: int,
    *,
    reference: str | None = None,
    tip_minor: int = 0,
    currency: str = "EUR",
    card: str = "mastercard",
    entry_mode: str = "chip",
    pin: str | None = test_material.SANDBOX_PIN,
    deferred: bool = False,
    captured_at: datetime | None = None,
    emv_changes: dict[str, str] | None = None,
    card_data: dict | None = None,
) -> AuthorisationRequest:
    """An authorisation as the simulated reader would produce it.

    ``emv_changes`` alters tags *after* the cryptogram was computed: a
    tampered request. ``pin=None`` means no PIN block (no CVM).
    ``card_data`` overrides the PAN or expiry (YYMM) inside the encrypted
    objects.
    """
    test_card = test_material.TEST_CARDS[card]
    captured = captured_at or datetime.now(timezone.utc).astimezone()
    total = amount_minor + tip_minor
    emv: dict[str, str] = {}
    if entry_mode != "swipe":
        emv = {
            "9F02": f"{total:012d}",
            "9F03": "000000000000",
            "9F1A": "0372",
            "95": "0000008000",
            "5F2A": "0978",
            "9A": captured.strftime("%y%m%d"),
            "9C": "00",
            "9F37": os.urandom(4).hex().upper(),
            "82": "3900",
            "9F36": "002A",
            "9F10": test_material.issuer_application_data(test_card.cvn),
            "9F27": "80",
            "5F34": test_card.psn,
        }
        emv["9F26"] = test_material.application_cryptogram(test_card.pan, test_card.psn, test_card.cvn, emv)
        emv.update(emv_changes or {})
    card_data = {"pan": test_card.pan, "expiry": test_card.expiry, **(card_data or {})}
    sealed = encryption.forwarded_card_data(card_data["pan"], card_data["expiry"])
    return AuthorisationRequest(
        reference=reference or new_reference(),
        amount_minor=amount_minor,
        tip_minor=tip_minor,
        currency=currency,
        entry_mode=entry_mode,
        cvm="online_pin" if pin is not None else "none",
        masked_pan=test_card.masked_pan,
        scheme=test_card.scheme,
        encrypted_card_data=sealed,
        emv=emv,
        encrypted_pin_block=encryption.forwarded_pin_block(pin, test_card.pan) if pin is not None else None,
        deferred=deferred,
        captured_at=captured.isoformat(),
        merchant_id="SANDBOX000000001",
        terminal_id="MPOS0001",
    )


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def pan_like_runs(data: bytes) -> list[str]:
    """Luhn-valid runs of 13–19 digits standing on their own (not inside a
    longer run or a hex string such as a SHA-256, where digit runs occur by
    chance): how a PAN would sit in a JSON value, a column or a log line."""
    return [
        match.group().decode()
        for match in re.finditer(rb"(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])", data)
        if luhn_valid(match.group().decode())
    ]


# -- a server that misbehaves on purpose ----------------------------------------------


class FaultServer(LoopbackServer):
    """A tiny HTTP-ish socket server that fails in one chosen way, after it has
    read the whole request (so the request *did* arrive):

    reset, close, not-http, garbage-json, json-array, wrong-shape, 404, 500, 502:
        every request gets that;
    reset-once, 503-once: the first request gets that, later ones are
        forwarded to ``upstream`` (a real sandbox) and answered faithfully.
    """

    def __init__(self, mode: str, *, upstream: str | None = None) -> None:
        import threading

        self.mode = mode
        self.upstream = upstream
        self.requests = 0
        self.idempotency_keys: list[str | None] = []
        self._lock = threading.Lock()
        super().__init__()

    @staticmethod
    def _read_request(conn) -> tuple[bytes, dict[str, str], bytes] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return lines[0].encode(), headers, body

    @staticmethod
    def _respond(conn, status: int, body: bytes, content_type: str = "application/json") -> None:
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway",
                  503: "Service Unavailable"}.get(status, "Status")
        conn.sendall(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode() + body
        )

    def _serve(self, conn) -> None:
        import socket
        import struct

        try:
            request = self._read_request(conn)
            if request is None:
                return
            request_line, headers, body = request
            with self._lock:
                self.requests += 1
                first = self.requests == 1
                self.idempotency_keys.append(headers.get("idempotency-key"))
            mode = self.mode
            if mode.endswith("-once"):
                mode = mode[: -len("-once")] if first else "forward"
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if self.upstream and first:
                    self._forward(request_line, headers, body)  # the acquirer sees it; the answer is lost
            elif mode == "close":
                pass
            elif mode == "not-http":
                conn.sendall(b"hello, this is not HTTP\r\n\r\n")
            elif mode == "garbage-json":
                self._respond(conn, 200, b"{not json", "application/json")
            elif mode == "json-array":
                self._respond(conn, 200, b"[]")
            elif mode == "wrong-shape":
                self._respond(conn, 200, b'{"approved": true}')
            elif mode == "404":
                self._respond(conn, 404, b'{"error": "not_found", "message": "nothing here"}')
            elif mode in ("500", "502", "503"):
                self._respond(conn, int(mode), b'{"error": "internal", "message": "it broke"}')
            elif mode == "forward":
                status, answer = self._forward(request_line, headers, body)
                self._respond(conn, status, answer)
            else:
                raise ValueError(f"unknown fault mode {self.mode}")
        finally:
            conn.close()

    def _forward(self, request_line: bytes, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        import http.client
        from urllib.parse import urlsplit

        method, path, _ = request_line.decode().split(" ", 2)
        upstream = urlsplit(self.upstream)
        client = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        try:
            passed = {name: value for name, value in headers.items() if name not in ("host", "connection")}
            client.request(method, path, body=body or None, headers=passed)
            response = client.getresponse()
            return response.status, response.read()
        finally:
            client.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A private CA certificate for localhost/127.0.0.1 and its key, as PEM files."""
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class RecordingAdapter:
    """Stands in for a third-party acquirer adapter found through the entry points."""

    def __init__(self, env) -> None:
        self.env = env


@contextlib.contextmanager
def tls_sandbox(folder: Path):
    """The sandbox acquirer behind TLS with a private CA: yields its
    ``https://localhost:PORT`` URL and the CA certificate's path."""
    import ssl
    import threading

    from mpos_cli.gateway.sandbox.server import make_server

    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = self_signed_certificate(folder)
    server = make_server("127.0.0.1", 0, folder / "data", key=None, hold_seconds=0)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}", cert_path
    finally:
        server.shutdown()
        server.server_close()
