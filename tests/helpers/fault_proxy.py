"""A TCP proxy on loopback between mpos and a real sandbox acquirer that
misbehaves on purpose, at the transport level.

It speaks just enough HTTP/1.1 to find where one request or answer ends
(headers and ``Content-Length``), so it can fail at a chosen point:

- ``drop_request``: read the request, close: the acquirer never sees it;
- ``reset_request``: read the request, reset (RST): never seen either;
- ``503_before``: answer 503 without forwarding;
- ``drop_response``: forward it (the acquirer commits), read the answer, close;
- ``reset``: forward, read the answer, reset the client's connection (RST);
- ``truncate``: forward, send the headers and half the body, close;
- ``slow``: forward, hold the answer ``delay`` seconds, then send it;
- ``502``: forward, then answer 502 instead of the acquirer's answer;
- ``malformed``: forward, then answer 200 with a body that is not JSON;
- ``corrupt91``: forward, then flip one hex digit of tag 91 (the ARPC) in
  the answer, keeping its length.

Faults are armed per path prefix and consumed in order; everything else
passes through untouched. ``log`` keeps (method, path, idempotency key,
action) of every request seen.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from tests.helpers.loopback import LoopbackServer

ACTIONS = {
    "drop_request", "reset_request", "503_before", "drop_response", "reset", "truncate", "slow", "502",
    "malformed", "corrupt91",
}


@dataclass
class Rule:
    method: str | None
    prefix: str
    action: str
    times: int | None  # None: forever
    delay: float | Callable[[], float] = 0.0  # seconds, or a function giving them per request


class Disconnected(Exception):
    pass


def _read_message(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes, dict[str, str]]:
    """One HTTP message (head, body, lower-cased headers) from ``sock``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise Disconnected()
        buffer += chunk
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    del buffer[:end]
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise Disconnected()
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body, headers


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _answer(status: int, reason: str, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class FaultProxy(LoopbackServer):
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, str | None, str]] = []
        # Called with (method, path, headers, body) as each request arrives, before it goes on.
        self.on_request: Callable[[str, str, dict, bytes], None] | None = None
        # Names each request as the sandbox route of the same meaning, with its
        # client reference (tests/fakes/running.py): rules and the log then read
        # alike for every acquirer. Default: the path and the Idempotency-Key.
        self.classify: Callable[[str, str, dict, bytes], tuple[str, str | None]] = \
            lambda method, path, headers, body: (path, headers.get("idempotency-key"))
        self._lock = threading.Lock()
        self._closing = threading.Event()
        super().__init__()

    # -- arming ----------------------------------------------------------------

    def fail(self, prefix: str, action: str, *, times: int | None = 1, method: str | None = None,
             delay: float | Callable[[], float] = 0.0) -> "FaultProxy":
        assert action in ACTIONS, action
        with self._lock:
            self.rules.append(Rule(method, prefix, action, times, delay))
        return self

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def seen(self, prefix: str, method: str | None = None) -> list[tuple[str, str, str | None, str]]:
        with self._lock:
            return [e for e in self.log if e[1].startswith(prefix) and (method is None or e[0] == method)]

    def _pick(self, method: str, path: str, key: str | None) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if path.startswith(rule.prefix) and (rule.method is None or rule.method == method):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules.remove(rule)
                    self.log.append((method, path, key, rule.action))
                    return rule
            self.log.append((method, path, key, "pass"))
            return None

    # -- serving -----------------------------------------------------------------

    def close(self) -> None:
        self._closing.set()  # a held answer is let go at once
        super().close()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        inbound, outbound = bytearray(), bytearray()
        try:
            while True:
                try:
                    head, body, headers = _read_message(client, inbound)
                except (Disconnected, OSError):
                    return
                method, path = head.split(b" ", 2)[:2]
                method, path = method.decode(), path.decode()
                if self.on_request is not None:
                    self.on_request(method, path, headers, body)
                route, key = self.classify(method, path, headers, body)
                rule = self._pick(method, route, key)
                action = rule.action if rule else "pass"
                if action == "drop_request":
                    client.close()
                    return
                if action == "reset_request":
                    _reset(client)
                    return
                if action == "503_before":
                    client.sendall(_answer(503, "Service Unavailable", b'{"error":"unavailable","message":"proxy"}'))
                    continue
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                upstream.sendall(head + body)
                try:
                    rhead, rbody, _ = _read_message(upstream, outbound)
                except Disconnected:
                    client.close()
                    return
                if action == "drop_response":
                    client.close()
                    return
                if action == "reset":
                    _reset(client)
                    return
                if action == "truncate":
                    client.sendall(rhead + rbody[: len(rbody) // 2])
                    client.close()
                    return
                if action == "slow":
                    if self._closing.wait(rule.delay() if callable(rule.delay) else rule.delay):
                        return
                elif action == "502":
                    client.sendall(_answer(502, "Bad Gateway", b'{"error":"bad_gateway","message":"proxy"}'))
                    continue
                elif action == "malformed":
                    client.sendall(_answer(200, "OK", b"<html>upstream timeout</html>", "text/html"))
                    continue
                elif action == "corrupt91":
                    rbody = corrupt_tag_91(rbody)
                try:
                    client.sendall(rhead + rbody)
                except OSError:
                    return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass


def _flip(digit: bytes) -> bytes:
    return b"0" if digit != b"0" else b"1"


def corrupt_tag_91(body: bytes) -> bytes:
    """Flip the first hex digit of tag 91 (the ARPC) wherever the answer
    carries it, keeping every length (so ``Content-Length`` still holds): the
    sandbox's ``"91":"…"``, a vendor's TLV string (Cybersource's
    ``pointOfSaleInformation.emv.tags``, Authorize.Net's ``emvResponse.tlvData``)
    and Authorize.Net's ``{"name":"91","value":"…"}``."""
    from mpos_cli.drivers.neo2 import tlv

    found = False
    match = re.search(rb'"91":\s*"([0-9A-Fa-f])', body)
    if match:
        body, found = body[: match.start(1)] + _flip(match.group(1)) + body[match.end(1):], True
    for match in re.finditer(rb'"(?:tags|tlvData)":\s*"([0-9A-Fa-f]+)"', body):
        data, offset = bytes.fromhex(match.group(1).decode()), 0
        for obj in tlv.iter_objects(data, open_containers=False):
            size = len(obj.encode())
            if obj.tag == "91":
                at = match.start(1) + 2 * (offset + size - len(obj.value))
                body, found = body[:at] + _flip(body[at:at + 1]) + body[at + 1:], True
            offset += size
    for match in re.finditer(rb'"name":\s*"91",\s*"value":\s*"([0-9A-Fa-f])', body):
        body, found = body[: match.start(1)] + _flip(match.group(1)) + body[match.end(1):], True
    assert found, "no tag 91 in the answer"
    return body


def wait_until(predicate, timeout: float = 10.0) -> bool:
    """Polls for a condition the test itself causes (not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
