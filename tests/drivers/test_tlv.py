"""BER-TLV decoding of NEO 2 data fields, against EMV 4.3 Book 3 Annex B.

Annex B ("Rules for BER-TLV Data Objects"), after B1 and B2: "Before,
between, or after TLV-coded data objects, '00' bytes without any meaning
may occur (for example, due to erased or modified TLV-coded data objects)."
So '00' bytes at an object boundary are padding, not a tag '00'; a '00'
inside a value is data.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpos_cli.drivers.neo2 import tlv

# A READ RECORD response published with its parse in the javaemvreader
# project's example output (code.google.com/p/javaemvreader/wiki/ExampleOutput,
# "[Step 3]"): 70 Record Template > 61 Application Template > 4F AID,
# 50 Application Label "VISA", 9F12 Application Preferred Name "VISA Classic",
# 87 Application Priority Indicator 02.
PUBLISHED_RECORD = bytes.fromhex(
    "7023" "6121" "4F07A1234567891010" "500456495341" "9F120C5649534120436C6173736963" "870102"
)
PUBLISHED_PARSE = {
    "4F": "A1234567891010",
    "50": "VISA".encode().hex().upper(),
    "9F12": "VISA Classic".encode().hex().upper(),
    "87": "02",
}


def test_the_published_record_decodes_as_published():
    assert tlv.decode(PUBLISHED_RECORD) == PUBLISHED_PARSE


def test_padding_before_between_and_after_objects_is_skipped():
    # A second GENERATE AC's data with '00' bytes where Annex B allows them.
    data = bytes.fromhex("0000" "9F270140" "00" "9F36020042" "000000" "95050000008000" "00")
    assert tlv.decode(data) == {"9F27": "40", "9F36": "0042", "95": "0000008000"}


def test_padding_inside_templates_is_skipped():
    # The published record with an erased object's bytes zeroed inside the
    # 61 template and after it (the template lengths count the padding).
    data = bytes.fromhex(
        "702A" "6126" "00" "4F07A1234567891010" "0000" "500456495341"
        "9F120C5649534120436C6173736963" "00" "870102" "0000" "00"
    )
    assert tlv.decode(data) == PUBLISHED_PARSE


def test_zero_bytes_inside_values_are_data():
    # 9F02 amount authorised, n12: 12.50 is 000000001250 (EMV Book 3 Annex A).
    data = bytes.fromhex("009F0206000000001250" "9F0300" "9C0100")
    assert tlv.decode(data) == {"9F02": "000000001250", "9F03": "", "9C": "00"}


def test_only_padding_is_no_data():
    assert tlv.decode(b"\x00" * 5) == {}
    assert tlv.decode(b"") == {}


def test_long_lengths_and_multi_byte_tags():
    value = bytes(range(200))
    data = b"\x00" + bytes.fromhex("DFEF7181C8") + value + b"\x00" + bytes.fromhex("DF520101")
    assert tlv.decode(data) == {"DFEF71": value.hex().upper(), "DF52": "01"}


@pytest.mark.parametrize(
    "hex_data",
    [
        "9F2702",  # a value shorter than its length
        "009F27",  # a tag without a length
        "9F",  # a tag cut in its second byte
        "9F0284",  # a length of four bytes with none there
        "9F0280",  # the indefinite form: Annex B lengths are definite
        "6103" "9F270140",  # an object running past the end of its template
    ],
)
def test_malformed_data_is_refused(hex_data):
    with pytest.raises(tlv.TlvError, match="cannot decode TLV"):
        tlv.decode(bytes.fromhex(hex_data))


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["9F02", "5F2A", "9A", "9C", "9F37", "95", "9B", "DF52", "DFEF71", "9F10", "84"]),
            st.binary(max_size=300),
            st.integers(min_value=0, max_value=3),  # '00' bytes before this object
        ),
        unique_by=lambda item: item[0],
    ),
    st.integers(min_value=0, max_value=3),
)
def test_any_padding_at_object_boundaries_leaves_the_objects(objects, trailing):
    data = b"".join(b"\x00" * pad + tlv.encode({tag: value.hex()}) for tag, value, pad in objects)
    data += b"\x00" * trailing
    assert tlv.decode(data) == {tag: value.hex().upper() for tag, value, _ in objects}
