"""BER-TLV for NEO 2 data fields, values as upper-case hex: encoded with pyemv.tlv, decoded here."""

from __future__ import annotations

from pyemv import tlv as _tlv


class TlvError(ValueError):
    pass


def encode(tags: dict[str, str]) -> bytes:
    try:
        return _tlv.encode({tag.upper(): bytes.fromhex(value) for tag, value in tags.items()})
    except (ValueError, _tlv.EncodeError) as exc:
        raise TlvError(f"cannot encode TLV: {exc}") from exc


def decode(data: bytes) -> dict[str, str]:
    """Every primitive data object in ``data``, templates flattened, values as upper-case hex.

    BER-TLV as EMV 4.3 Book 3 Annex B codes it: a tag whose first byte has
    b5-b1 all set continues while b8 of the next byte is set (B1); a length
    byte with b8 set gives the count of length bytes that follow (B2); b6 of
    the tag's first byte marks a constructed object whose value is more data
    objects. And, from the same annex: "Before, between, or after TLV-coded
    data objects, '00' bytes without any meaning may occur (for example, due
    to erased or modified TLV-coded data objects)": such padding is skipped,
    at the top level and inside templates. pyemv's decoder reads a '00' as a
    tag, so the walk is done here (pyemv still encodes).
    """
    data = bytes(data)
    tags: dict[str, str] = {}
    ends = [len(data)]  # where each enclosing template ends, innermost last
    offset = 0
    while ends:
        limit = ends[-1]
        if offset == limit:
            ends.pop()
            continue
        if data[offset] == 0x00:  # padding, Annex B
            offset += 1
            continue
        start, first = offset, data[offset]
        offset += 1
        if first & 0x1F == 0x1F:  # B1: more tag bytes, while b8 is set
            while offset < limit and data[offset] & 0x80:
                offset += 1
            offset += 1
        tag = data[start:offset].hex().upper()
        if offset >= limit:
            raise TlvError(f"cannot decode TLV: tag {tag} at offset {start} has no length")
        length = data[offset]
        offset += 1
        if length & 0x80:  # B2: b7-b1 count the length bytes that follow
            count = length & 0x7F
            if count == 0 or offset + count > limit:
                raise TlvError(f"cannot decode TLV: tag {tag} at offset {start} has a malformed length")
            length = int.from_bytes(data[offset:offset + count], "big")
            offset += count
        end = offset + length
        if end > limit:
            raise TlvError(
                f"cannot decode TLV: tag {tag} at offset {start} needs {length} bytes, {limit - offset} left"
            )
        if first & 0x20:  # constructed: its value is a template of data objects
            ends.append(end)
        else:
            tags[tag] = data[offset:end].hex().upper()
            offset = end
    return tags
