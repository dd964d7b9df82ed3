"""ID TECH's Enhanced Encrypted MSR data block, as a NEO 2 reader wraps it
in DFEE23 after a swipe (guide §8.4.18 p. 185, "Default Start Transaction
Output TLV Data List": DFEE23 MSR Data; p. 238: "This tag will wrap an
entire MSR data block", format of ID TECH 80000502-001 Encrypted Data
Output Formats, "ID TECH Enhanced Encrypted MSR Data Output Format").

Layout (80000502-001 fields 1-27; field numbers in brackets):

    STX 02 [1] | length, low byte first [2] | card encode type [3]
    | track status [4] | T1, T2, T3 clear/masked lengths [5-7]
    | clear/mask sent status [8] | encrypted/hash sent status [9]
    | T1, T2, T3 masked data [12-14] | encrypted tracks [15-17]
    | session ID [18] | T1, T2, T3 hashes [19-21] | serial number [22]
    | KSN [23] | LRC | checksum | ETX 03

Field 8: bits 0-2 masked track 1-3 present, bits 5/4 00 TDES 01 AES,
bit 7 reader serial number present. Field 9: bits 0-2 encrypted track 1-3
present, bits 3-5 their SHA-1 hashes (20 bytes each), bit 6 session ID
(8 bytes), bit 7 KSN present (10 bytes, TDES DUKPT). Each encrypted track
is the clear track padded with 00 to the cipher's block. The length counts
the card data (fields 3 to 23); LRC is their XOR, the checksum their sum
modulo 256. Card encode type 8x is the enhanced format (80 ISO/ABA).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

STX, ETX = 0x02, 0x03
ENHANCED_ISO_ABA = 0x80
SERIAL_PRESENT = 0x80  # field 8 bit 7
AES_BITS = 0x30  # field 8 bits 5/4: 00 TDES, 01 AES
KSN_PRESENT = 0x80  # field 9 bit 7
SESSION_ID_PRESENT = 0x40  # field 9 bit 6
HASH_SIZE, SERIAL_SIZE, SESSION_ID_SIZE, KSN_SIZE = 20, 10, 8, 10


class MsrBlockError(ValueError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"not an Enhanced Encrypted MSR data block: {detail}")


@dataclass(frozen=True)
class MsrBlock:
    encode_type: int
    track_status: int
    masked: tuple[bytes, bytes, bytes]  # tracks 1-3 as the reader shows them (ASCII, masked)
    encrypted: tuple[bytes, bytes, bytes]  # tracks 1-3 ciphertext, empty when absent
    hashes: tuple[bytes, bytes, bytes]
    serial: bytes | None
    ksn: bytes | None
    aes: bool

    @property
    def block_size(self) -> int:
        return 16 if self.aes else 8


def lrc(data: bytes) -> int:
    return functools.reduce(lambda acc, byte: acc ^ byte, data, 0)


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def _padded(length: int, block: int) -> int:
    return -(-length // block) * block


def parse(block: bytes) -> MsrBlock:
    """The fields of a binary block (STX to ETX); raise MsrBlockError."""
    block = bytes(block)
    if len(block) < 15 or block[0] != STX or block[-1] != ETX:
        raise MsrBlockError("no STX ... ETX frame")
    length = int.from_bytes(block[1:3], "little")
    card = block[3:-3]
    if len(card) != length:
        raise MsrBlockError(f"length field says {length} bytes, {len(card)} found")
    if block[-3] != lrc(card) or block[-2] != checksum(card):
        raise MsrBlockError("LRC or checksum does not match")
    encode_type, track_status, t1, t2, t3, clear_status, sent_status = card[:7]
    if not encode_type & 0x80:
        raise MsrBlockError(f"card encode type 0x{encode_type:02X} is the original, not the enhanced, format")
    if track_status & 0xC0:
        raise MsrBlockError("optional bytes (field 10) are not read by mpos")
    aes = clear_status & AES_BITS == 0x10
    cipher_block = 16 if aes else 8
    at = 7
    lengths = (t1, t2, t3)

    def take(size: int) -> bytes:
        nonlocal at
        if at + size > len(card):
            raise MsrBlockError("a field runs past the end")
        value, at = card[at:at + size], at + size
        return value

    masked = tuple(take(n) if clear_status & (1 << i) else b"" for i, n in enumerate(lengths))
    encrypted = tuple(take(_padded(n, cipher_block)) if sent_status & (1 << i) else b""
                      for i, n in enumerate(lengths))
    if sent_status & SESSION_ID_PRESENT:
        take(SESSION_ID_SIZE)
    hashes = tuple(take(HASH_SIZE) if sent_status & (0x08 << i) else b"" for i in range(3))
    serial = take(SERIAL_SIZE) if clear_status & SERIAL_PRESENT else None
    ksn = take(KSN_SIZE) if sent_status & KSN_PRESENT else None
    if at != len(card):
        raise MsrBlockError(f"{len(card) - at} bytes left over")
    return MsrBlock(encode_type, track_status, masked, encrypted, hashes, serial, ksn, aes)


def build(*, masked: tuple[bytes, bytes, bytes], clear_lengths: tuple[int, int, int],
          encrypted: tuple[bytes, bytes, bytes], hashes: tuple[bytes, bytes, bytes],
          serial: bytes | None, ksn: bytes | None, track_status: int = 0x3F) -> bytes:
    """A TDES block in the same layout (the simulated reader's swipe)."""
    clear_status = sum(1 << i for i in range(3) if masked[i]) | (SERIAL_PRESENT if serial else 0)
    sent_status = (sum(1 << i for i in range(3) if encrypted[i]) | sum(0x08 << i for i in range(3) if hashes[i])
                   | (KSN_PRESENT if ksn else 0))
    card = (bytes((ENHANCED_ISO_ABA, track_status, *clear_lengths, clear_status, sent_status))
            + b"".join(masked) + b"".join(encrypted) + b"".join(hashes) + (serial or b"") + (ksn or b""))
    return bytes((STX,)) + len(card).to_bytes(2, "little") + card + bytes((lrc(card), checksum(card), ETX))


def masked_pan(block: MsrBlock) -> str | None:
    """The masked PAN, * for masked digits, from masked track 2 (";PAN=...?")
    or track 1 ("%B PAN ^NAME^...?")."""
    track2 = block.masked[1].decode("ascii", "replace")
    if "=" in track2:
        return track2.lstrip(";").split("=", 1)[0]
    track1 = block.masked[0].decode("ascii", "replace").lstrip("%")
    if "^" in track1:
        return track1[1:].split("^", 1)[0]  # after the format code (B, or * when masked)
    return None


def clear_track(plaintext: bytes) -> str:
    """A decrypted track: ASCII, its 00 padding removed."""
    return plaintext.rstrip(b"\x00").decode("ascii")
