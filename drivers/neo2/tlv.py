"""BER-TLV for NEO 2 data fields (pyemv.tlv), with values as upper-case hex."""

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
    try:
        return _tlv.decode(bytes(data), flatten=True, convert=lambda tag, value: bytes(value).hex().upper())
    except _tlv.DecodeError as exc:
        raise TlvError(f"cannot decode TLV: {exc}") from exc
