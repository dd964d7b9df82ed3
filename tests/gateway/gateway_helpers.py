"""Helpers for the gateway tests: the sandbox acquirer as a real server on
loopback, and authorisation requests built with the simulated card's own
cryptography (emv_sandbox), the way the reader builds them."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

from mpos_cli import emv_sandbox
from mpos_cli.gateway.base import AuthorisationRequest
from mpos_cli.gateway.client import HttpGateway
from mpos_cli.gateway.sandbox import start_embedded

SERVER_KEY = "test-bearer-key-7f3a"


class Sandbox:
    """One sandbox acquirer and the data folder it keeps its ledger in."""

    def __init__(self, data_dir: Path, *, hold_seconds: float = 30.0, key: str | None = SERVER_KEY) -> None:
        self.data_dir = data_dir
        self.key = key
        self.url, self.stop = start_embedded(data_dir, key=key, hold_seconds=hold_seconds)
        self.gateways: list[HttpGateway] = []

    def gateway(self, **options) -> HttpGateway:
        options.setdefault("key", self.key)
        options.setdefault("timeout", 10.0)
        options.setdefault("sandbox", True)
        gateway = HttpGateway(options.pop("url", self.url), **options)
        self.gateways.append(gateway)
        return gateway

    def close(self) -> None:
        for gateway in self.gateways:
            gateway.close()
        self.stop()


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
    pin: str | None = emv_sandbox.SANDBOX_PIN,
    deferred: bool = False,
    captured_at: datetime | None = None,
    emv_changes: dict[str, str] | None = None,
    card_data: dict | None = None,
) -> AuthorisationRequest:
    """An authorisation as the simulated reader would produce it.

    ``emv_changes`` alters tags *after* the cryptogram was computed: a
    tampered request. ``pin=None`` means no PIN block (no CVM).
    """
    test_card = emv_sandbox.TEST_CARDS[card]
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
            "9F10": emv_sandbox.issuer_application_data(test_card.cvn),
            "9F27": "80",
            "5F34": test_card.psn,
        }
        emv["9F26"] = emv_sandbox.application_cryptogram(test_card.pan, test_card.psn, test_card.cvn, emv)
        emv.update(emv_changes or {})
    sealed = emv_sandbox.seal(
        card_data
        or {
            "pan": test_card.pan,
            "psn": test_card.psn,
            "expiry": test_card.expiry,
            "cvn": test_card.cvn,
            "scheme": test_card.scheme,
        },
        "card",
    )
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
        encrypted_pin_block=emv_sandbox.seal({"pin": pin}, "pin") if pin is not None else None,
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
