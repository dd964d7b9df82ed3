"""The simulated reader's secure side: two DUKPT keys and how it wraps
sensitive objects, as an ID TECH NEO 2 reader does (guide §8.5.3: "Sensitive
TLV will be TDES/AES encrypted with Padding (0x00)"; ID TECH 80000502-001).

- Data key: each sensitive object (57, 5A, DFEF18, ...) is encrypted *as a
  whole TLV* (tag, length, value), padded with 00 to 8 bytes, TDES-CBC with
  a zero IV under the X9.24-1:2009 request data key of the current KSN,
  and sent as ``<tag> C1 <len> <ciphertext>`` beside its masked copy
  ``<tag> A1 <len> <masked value>``; the KSN goes in DFEE12.
- PIN key: the online PIN as an ISO 9564 format 0 block under the PIN
  variant, in tag 99, its KSN in DFEE51.

Like a real reader it holds initial keys (IPEKs) injected for it, never the
BDK; each transaction moves to the next KSN, so no key is used twice. The
counter starts at a random point, so two simulated readers (or two runs)
seldom share a KSN.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mpos_cli.drivers.crypto import dukpt
from mpos_cli.drivers.neo2 import tlv

MASK_NIBBLE = "C"  # ID TECH masks BCD digits with C (its test script: 57 A1 13 4761 CCCC ...)


@dataclass
class DukptKey:
    initial_key: bytes
    ksn: bytes

    @classmethod
    def injected(cls, bdk: bytes, initial_ksn: bytes, *, random_start: bool = True) -> "DukptKey":
        ksn = initial_ksn
        if random_start:
            ksn = dukpt.with_counter(initial_ksn, secrets.randbelow(0x10000))
        return cls(dukpt.ipek(bdk, initial_ksn), ksn)

    def next(self) -> tuple[bytes, bytes]:
        """(KSN, transaction key) for the next transaction."""
        self.ksn = dukpt.next_ksn(self.ksn)
        return self.ksn, dukpt.transaction_key(self.initial_key, self.ksn)


def encrypt_objects(key: bytes, objects: list[tlv.TlvObject]) -> list[tlv.TlvObject]:
    data_key = dukpt.data_request_key(key)
    return [tlv.TlvObject(obj.tag, dukpt.tdes_cbc(data_key, dukpt.zero_pad(obj.encode(), 8)), tlv.ENCRYPTED)
            for obj in objects]


def mask_bcd(value: str, *, keep_first: int = 6, keep_last: int = 4) -> str:
    """A PAN in BCD (or a track 2 equivalent) with the middle digits masked,
    discretionary data masked too; expiry and service code stay."""
    value = value.upper()
    pan, sep, rest = value.partition("D")
    digits = pan.rstrip("F")
    masked = digits[:keep_first] + MASK_NIBBLE * (len(digits) - keep_first - keep_last) + digits[-keep_last:]
    masked += pan[len(digits):]
    if sep:
        kept = rest[:7]  # YYMM + service code
        masked += sep + kept + MASK_NIBBLE * len(rest[7:])  # pad nibble too, as ID TECH's own output shows
    return masked


def mask_track_ascii(track: str, *, keep_first: int = 6, keep_last: int = 4) -> str:
    pan, sep, rest = track.partition("=")
    masked = pan[:keep_first] + "*" * (len(pan) - keep_first - keep_last) + pan[-keep_last:]
    return masked + sep + rest[:7] + "*" * len(rest[7:]) if sep else masked


def sensitive_objects(key: DukptKey, clear: dict[str, str], masked: dict[str, str]) -> list[tlv.TlvObject]:
    """KSN, then each object's masked and encrypted copies, for one answer."""
    ksn, current = key.next()
    objects = [tlv.TlvObject("DFEE12", ksn)]
    for tag, value in clear.items():
        objects.append(tlv.TlvObject(tag, bytes.fromhex(masked[tag]), tlv.MASKED))
        objects += encrypt_objects(current, [tlv.TlvObject(tag, bytes.fromhex(value))])
    return objects


def pin_objects(key: DukptKey, pin: str, pan: str) -> list[tlv.TlvObject]:
    # Imported here: PIN blocks (psec) are for the cards that ask for a PIN,
    # not worth loading at every simulated tap.
    from mpos_cli.drivers.crypto import pinblock

    ksn, current = key.next()
    return [tlv.TlvObject("99", pinblock.encrypt_format0(current, pin, pan)), tlv.TlvObject("DFEE51", ksn)]


def forwarded_card_data(pan: str, expiry: str, *, key: DukptKey | None = None) -> str:
    """What a terminal forwards for this card after a simulated read: DFEE12
    and the encrypted 57 and 5A, as the reader's TLV bytes in hex (tests and
    tools that build an authorisation without a reader)."""
    from mpos_cli.drivers.sim import test_material

    key = key or DukptKey.injected(test_material.SANDBOX_BDK, test_material.SANDBOX_DATA_IKSN)
    track2 = f"{pan}D{expiry}2010000000000"
    clear = {"57": track2 + "F" * (len(track2) % 2), "5A": pan + "F" * (len(pan) % 2)}
    objects = [obj for obj in sensitive_objects(key, clear, {t: mask_bcd(v) for t, v in clear.items()})
               if obj.form != tlv.MASKED]
    return tlv.encode_objects(objects).hex().upper()


def forwarded_pin_block(pin: str, pan: str, *, key: DukptKey | None = None) -> str:
    from mpos_cli.drivers.sim import test_material

    key = key or DukptKey.injected(test_material.SANDBOX_BDK, test_material.SANDBOX_PIN_IKSN)
    return tlv.encode_objects(pin_objects(key, pin, pan)).hex().upper()


def swipe_block(key: DukptKey, track2: str, *, serial: str) -> bytes:
    """A swipe as a NEO 2 reader wraps it in DFEE23: an Enhanced Encrypted
    MSR block (drivers/neo2/msr.py) with track 2 (";PAN=...?") masked for
    display and, 00-padded, TDES-CBC encrypted under the data key of the
    next KSN, which the block carries; the reader's serial number too."""
    from mpos_cli.drivers.neo2 import msr

    clear = f";{track2}?".encode("ascii")
    masked = f";{mask_track_ascii(track2)}?".encode("ascii")
    ksn, current = key.next()
    ciphertext = dukpt.tdes_cbc(dukpt.data_request_key(current), dukpt.zero_pad(clear, 8))
    return msr.build(masked=(b"", masked, b""), clear_lengths=(0, len(clear), 0), encrypted=(b"", ciphertext, b""),
                     hashes=(b"", b"", b""), serial=serial.encode("ascii")[-10:].rjust(10, b"0"), ksn=ksn,
                     track_status=0x12)  # track 2 decoded, its samples read

