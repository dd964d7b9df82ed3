"""The card-data scanner every security test uses (SPEC §8): PANs of the
test cards in any encoding, Luhn-valid digit runs, track data, the reader's
clear objects (5A, 57) and the clear ISO 9564 format 0 PIN blocks of the
test cards, a clear PIN field, and the credentials the tests plant."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from psec import pinblock as iso9564

from mpos_cli.drivers.sim import test_material

SECRET = "sEcReT-canary-8b41f7d2-mpos"
WRONG = "wrong-canary-31c9e0aa"

TRACK = [re.compile(rb";\d{13,19}="), re.compile(rb"%B\d"), re.compile(rb"(?<![0-9A-Za-z])\d{13,19}=\d{4}")]
PANS = [card.pan for card in test_material.TEST_CARDS.values()]
CLEAR_PIN_FIELD = re.compile(rb'"pin"\s*:\s*"?\d{4,12}')  # the sandbox's sealed PIN payload, unsealed
# What the reader's encrypted objects hold, in the forms a leak would take:
# the PAN (5A) and track 2 equivalent (57) as the reader's TLV nibbles, and
# the clear ISO 9564 format 0 PIN block of the sandbox PIN for each card.
CLEAR_OBJECTS = [
    value
    for card in test_material.TEST_CARDS.values()
    for value in (f"5A08{card.pan}", f"{card.pan}D{card.expiry}",
                  iso9564.encode_pinblock_iso_0(test_material.SANDBOX_PIN, card.pan).hex().upper())
]


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def pan_runs(data: bytes) -> list[str]:
    """Luhn-valid runs of 13-19 digits standing on their own (not inside a
    longer hex or alphanumeric token such as a SHA-256, where digit runs
    occur by chance)."""
    return [
        m.group().decode()
        for m in re.finditer(rb"(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])", data)
        if luhn_valid(m.group().decode())
    ]


def forms(text: str) -> list[bytes]:
    """A value as it could sit in a file: plain, ASCII hex (either case), base64."""
    raw = text.encode()
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw).rstrip(b"="),
            base64.urlsafe_b64encode(raw).rstrip(b"=")]


def leaks(name: str, data: bytes, secrets: tuple[str, ...] = (SECRET, WRONG)) -> list[str]:
    """What ``data`` gives away: card data in any form, or one of ``secrets``
    (the gateway secret, a wrong one tried, the merchant id, the key id)."""
    found = []
    for pan in PANS:
        if any(form in data for form in forms(pan)):
            found.append(f"{name}: the test card PAN {pan[:6]}…")
    for value in CLEAR_OBJECTS:
        binary = bytes.fromhex(value[: len(value) // 2 * 2])
        if value.encode() in data or value.lower().encode() in data or binary in data:
            found.append(f"{name}: a clear card object or PIN block ({value[:6]}…)")
    # base64 tokens: decode and look inside too (a PAN or the secret wrapped once)
    for token in re.findall(rb"[A-Za-z0-9+/_-]{20,}={0,2}", data):
        try:
            decoded = base64.b64decode(token + b"=" * (-len(token) % 4), altchars=b"-_" if b"-" in token or b"_" in token else None)
        except ValueError:
            continue
        if any(pan.encode() in decoded for pan in PANS) or any(secret.encode() in decoded for secret in secrets):
            found.append(f"{name}: card data or a credential inside a base64 token")
    for run in pan_runs(data):
        found.append(f"{name}: a Luhn-valid digit run {run[:6]}… ({len(run)} digits)")
    for pattern in TRACK:
        if pattern.search(data):
            found.append(f"{name}: track data pattern {pattern.pattern!r}")
    if CLEAR_PIN_FIELD.search(data):
        found.append(f"{name}: a clear PIN field")
    for secret in secrets:
        if any(form in data for form in forms(secret)):
            found.append(f"{name}: a gateway credential ({secret[:4]}…)")
    return found


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]
