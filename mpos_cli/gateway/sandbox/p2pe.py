"""The sandbox acquirer's decryption, as a P2PE gateway does it.

The terminal forwards the reader's encrypted objects untouched
(``encrypted_card_data``: the reader's TLV bytes in hex, DFEE12 with the KSN
and each sensitive object in its encrypted form, see
mpos-reader-protocol(7)); the gateway derives the transaction's keys from
its base derivation key (here the documented test BDK
``test_material.SANDBOX_BDK``) and the KSN, decrypts, and reads the PAN and
expiry from the track 2 equivalent (57), the PAN (5A) or the swiped track 2
(DFEF18), or, for a swipe, track 2 inside the Enhanced Encrypted MSR
block (DFEE23, its KSN inside the block). The online PIN block (tag 99,
KSN in DFEE51) opens the same way under the PIN variant. Data that does
not decrypt to well-formed objects is refused, never guessed at.

A 10-byte KSN is TDES DUKPT (X9.24-1), a 12-byte KSN AES DUKPT (X9.24-3).
"""

from __future__ import annotations

from dataclasses import dataclass

from mpos_cli.drivers.sim import test_material
from mpos_cli.drivers.crypto import dukpt, pinblock
from mpos_cli.drivers.neo2 import msr, tlv


class UnreadableCardData(ValueError):
    pass


@dataclass(frozen=True)
class CardData:
    pan: str
    expiry: str | None  # YYMM


def _objects(blob: str) -> tlv.Decoded:
    try:
        return tlv.parse(bytes.fromhex(blob))
    except (ValueError, tlv.TlvError) as exc:
        raise UnreadableCardData("not the reader's TLV objects") from exc


def _decrypt(ksn: bytes, ciphertext: bytes) -> bytes:
    if len(ksn) == dukpt.TDES_KSN_SIZE:
        key = dukpt.transaction_key(dukpt.ipek(test_material.SANDBOX_BDK, ksn), ksn)
        return dukpt.tdes_cbc(dukpt.data_request_key(key), ciphertext, decrypt=True)
    if len(ksn) == dukpt.AES_KSN_SIZE:
        key = dukpt.aes_transaction_key(dukpt.aes_initial_key(test_material.SANDBOX_AES_BDK, ksn), ksn)
        working = dukpt.aes_working_key(key, ksn, dukpt.USAGE_DATA_ENCRYPT)
        return dukpt.aes_cbc(working, ciphertext, decrypt=True)
    raise UnreadableCardData(f"a KSN of {len(ksn)} bytes")


def track2_card_data(nibbles: str) -> CardData:
    pan, sep, rest = nibbles.upper().rstrip("F").partition("D")
    return CardData(pan, rest[:4] if sep and rest[:4].isdigit() else None)


def _swiped_card_data(block_hex: str) -> CardData:
    """A swipe's Enhanced Encrypted MSR block (DFEE23): track 2, encrypted
    under the data key of the block's own KSN, reads ";PAN=YYMM...?"."""
    try:
        block = msr.parse(bytes.fromhex(block_hex))
    except msr.MsrBlockError as exc:
        raise UnreadableCardData(str(exc)) from exc
    if not (block.encrypted[1] and block.ksn):
        raise UnreadableCardData("no encrypted track 2 or no KSN in the swipe")
    try:
        text = msr.clear_track(_decrypt(block.ksn, block.encrypted[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableCardData("track 2 does not decrypt") from exc
    if not (text.startswith(";") and "=" in text):
        raise UnreadableCardData("track 2 does not decrypt to a track")
    pan, _, rest = text.strip(";?").partition("=")
    if not (pan.isdigit() and 12 <= len(pan) <= 19):
        raise UnreadableCardData("no PAN in track 2")
    return CardData(pan, rest[:4] if rest[:4].isdigit() else None)


def card_data(blob: str) -> CardData:
    """The PAN and expiry inside the reader's encrypted objects."""
    objects = _objects(blob)
    if "DFEE23" in objects.plain and not objects.encrypted:
        return _swiped_card_data(objects.plain["DFEE23"])
    ksn = objects.plain.get("DFEE12")
    if not ksn or not objects.encrypted:
        raise UnreadableCardData("no KSN or no encrypted object")
    clear: dict[str, str] = {}
    for tag, ciphertext in objects.encrypted.items():
        try:
            inner = tlv.decode(_decrypt(bytes.fromhex(ksn), bytes.fromhex(ciphertext)))
        except (ValueError, tlv.TlvError) as exc:  # wrong key: the padding or TLV does not hold
            raise UnreadableCardData(f"object {tag} does not decrypt") from exc
        if set(inner) != {tag}:
            raise UnreadableCardData(f"object {tag} does not decrypt to itself")
        clear.update(inner)
    if "57" in clear:
        found = track2_card_data(clear["57"])
    elif "DFEF18" in clear:  # swiped track 2, ASCII "PAN=YYMM..."
        text = bytes.fromhex(clear["DFEF18"]).decode("ascii", "replace").strip(";?")
        pan, _, rest = text.partition("=")
        found = CardData(pan, rest[:4] if rest[:4].isdigit() else None)
    elif "5A" in clear:
        found = CardData(clear["5A"].rstrip("F"), None)
    else:
        raise UnreadableCardData("no PAN among the objects")
    if "5A" in clear and clear["5A"].rstrip("F") != found.pan:
        raise UnreadableCardData("PAN and track 2 disagree")
    if not (found.pan.isdigit() and 12 <= len(found.pan) <= 19):
        raise UnreadableCardData("no PAN among the objects")
    return found


def pin(blob: str, pan: str) -> str:
    """The PIN inside the reader's encrypted PIN block (99 + DFEE51)."""
    objects = _objects(blob)
    block, ksn = objects.plain.get("99"), objects.plain.get("DFEE51")
    if not (block and ksn):
        raise UnreadableCardData("no PIN block or no PIN KSN")
    ksn_bytes, block_bytes = bytes.fromhex(ksn), bytes.fromhex(block)
    if len(ksn_bytes) == dukpt.TDES_KSN_SIZE:
        key = dukpt.transaction_key(dukpt.ipek(test_material.SANDBOX_BDK, ksn_bytes), ksn_bytes)
        return pinblock.decrypt_format0(key, block_bytes, pan)
    if len(ksn_bytes) == dukpt.AES_KSN_SIZE:
        key = dukpt.aes_transaction_key(dukpt.aes_initial_key(test_material.SANDBOX_AES_BDK, ksn_bytes), ksn_bytes)
        return pinblock.decrypt_format4(key, ksn_bytes, block_bytes, pan)
    raise UnreadableCardData(f"a PIN KSN of {len(ksn_bytes)} bytes")
