"""BER-TLV as NEO 2 readers write it, values as upper-case hex.

Three things beyond plain BER-TLV (EMV Book 3 Annex B):

- **Padding**: 00 bytes between objects are skipped (Annex B: "before,
  between or after" data objects).
- **Masked and encrypted objects** (NEO 2 Interface Developer's Guide
  §8.5.3, Activate Transaction 02-40 answer: "Sensitive TLV will be
  TDES/AES encrypted with Padding (0x00)"; layout per ID TECH 80000502-001
  Encrypted Data Output Formats): a sensitive tag (57, 5A, 56, DFEF18, ...)
  may come twice, with the long-form length byte's spare bits telling
  which copy it is: ``1 0 1 n n n n n`` (e.g. A1) is the *masked* copy for
  display, ``1 1 0 n n n n n`` (e.g. C1) the *encrypted* copy, where nnnnn
  is the number of length bytes that follow, as in BER. ID TECH's own test
  script shows ``57 A1 13 <masked track 2>`` then ``57 C1 18 <ciphertext>``.
- **Containers**: FFEE01 (ViVOpay group tag, guide §8.5.1 response TLVs),
  E1 (DE 055 clearing record) and FF8105 / FF8106 (Mastercard data record
  and discretionary data) hold more TLVs and are opened, and so are the EMV
  templates 6F, A5, BF0C, 61, 70 and 77; every other tag,
  71 and 72 issuer scripts included, keeps its value whole. (FFEE1F, the
  contactless error code table, has the constructed bit set but a raw
  4-byte value, so the constructed bit alone cannot decide.)
"""

from __future__ import annotations

from dataclasses import dataclass

CONTAINERS = frozenset({
    "FFEE01", "E1", "FF8105", "FF8106",
    # EMV templates a card's answers pass through (EMV Book 3 Annex A, B):
    # FCI 6F / A5 / BF0C, application template 61, READ RECORD 70, response
    # message template format 2 (77). Their primitives are the data.
    "6F", "A5", "BF0C", "61", "70", "77",
})

PLAIN, MASKED, ENCRYPTED = "plain", "masked", "encrypted"
_FORM_BITS = {PLAIN: 0x80, MASKED: 0xA0, ENCRYPTED: 0xC0}


class TlvError(ValueError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"cannot decode TLV: {detail}")


@dataclass(frozen=True)
class TlvObject:
    tag: str  # upper-case hex, e.g. "9F02"
    value: bytes
    form: str = PLAIN  # plain | masked | encrypted

    def encode(self) -> bytes:
        return _tag_bytes(self.tag) + _length_bytes(len(self.value), self.form) + self.value


@dataclass
class Decoded:
    """Objects by form. ``plain`` is what EMV calls the data; ``masked`` and
    ``encrypted`` hold the two copies of each sensitive object."""

    plain: dict[str, str]
    masked: dict[str, str]
    encrypted: dict[str, str]


def _tag_bytes(tag: str) -> bytes:
    try:
        raw = bytes.fromhex(tag)
    except ValueError as exc:
        raise TlvError(f"tag {tag!r} is not hex") from exc
    if not raw:
        raise TlvError("empty tag")
    return raw


def _length_bytes(length: int, form: str = PLAIN) -> bytes:
    if form == PLAIN and length < 0x80:
        return bytes((length,))
    size = max(1, (length.bit_length() + 7) // 8)
    if size > 0x1F:
        raise TlvError("value too long")
    return bytes((_FORM_BITS[form] | size,)) + length.to_bytes(size, "big")


def iter_objects(data: bytes, *, open_containers: bool = True):
    """Every object in ``data`` in order (containers opened), skipping 00 padding."""
    data = bytes(data)
    i = 0
    while i < len(data):
        if data[i] == 0x00:
            i += 1  # padding (EMV Book 3 Annex B)
            continue
        start = i
        i += 1
        if data[start] & 0x1F == 0x1F:  # more tag bytes follow
            while i < len(data) and data[i] & 0x80:
                i += 1
            i += 1
        if i > len(data):
            raise TlvError(f"tag cut short at byte {start}")
        tag = data[start:i].hex().upper()
        if i >= len(data):
            raise TlvError(f"tag {tag} has no length")
        first = data[i]
        i += 1
        form = PLAIN
        if first & 0x80:
            if first & 0x60 == 0x20:
                form = MASKED
            elif first & 0x60 == 0x40:
                form = ENCRYPTED
            elif first & 0x60:
                raise TlvError(f"tag {tag}: unknown length form 0x{first:02X}")
            size = first & 0x1F
            if size == 0 or i + size > len(data):
                raise TlvError(f"tag {tag}: bad length")
            length = int.from_bytes(data[i:i + size], "big")
            i += size
        else:
            length = first
        if i + length > len(data):
            raise TlvError(f"tag {tag}: value runs past the end ({length} bytes)")
        value = data[i:i + length]
        i += length
        if open_containers and form == PLAIN and tag in CONTAINERS:
            yield from iter_objects(value)
        else:
            yield TlvObject(tag, value, form)


def parse(data: bytes) -> Decoded:
    decoded = Decoded({}, {}, {})
    by_form = {PLAIN: decoded.plain, MASKED: decoded.masked, ENCRYPTED: decoded.encrypted}
    for obj in iter_objects(data):
        by_form[obj.form][obj.tag] = obj.value.hex().upper()
    return decoded


def decode(data: bytes) -> dict[str, str]:
    """The plain objects (containers opened): tag -> hex value."""
    return parse(data).plain


def encode(tags: dict[str, str]) -> bytes:
    """Plain objects from tag -> hex value, in the order given."""
    try:
        return b"".join(TlvObject(tag.upper(), bytes.fromhex(value)).encode() for tag, value in tags.items())
    except ValueError as exc:
        raise TlvError(f"cannot encode TLV: {exc}") from exc


def encode_objects(objects) -> bytes:
    return b"".join(obj.encode() for obj in objects)


def container(tag: str, tags: dict[str, str]) -> str:
    """A container's value (hex) holding ``tags``, e.g. FFEE01 around DF30 and DF52."""
    return encode(tags).hex().upper()
