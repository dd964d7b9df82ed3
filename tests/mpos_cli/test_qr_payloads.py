"""QR payment payloads against published examples: EPC069-12, ISO 11649, EMVCo MPM, CRC-16/CCITT-FALSE.

Every expected value below was written by someone else; the source is named
next to it."""

from __future__ import annotations

import pytest

from mpos_cli import qr
from mpos_cli.errors import UsageError

# EPC069-12 "Quick Response Code: Guidelines to Enable Data Capture for the
# Initiation of a SEPA Credit Transfer", version 2.1 of 9 February 2012,
# example 1 (version 002, UTF-8). The same example, with its length of 96
# bytes, is segno's test vector: heuer/segno, tests/test_helpers_epcqr.py,
# test_reference_002 ("See. EPC069-12 Version 2.1 dtd. 9 February 2012
# example 1"); its elements also appear on neodynamic.com's EPC QR page
# ("001|BHBLDEHHXXX|Franz Mustermänn|DE71110220330123456789|EUR12.3|GDDS|RF18539007547034").
EPC_EXAMPLE_1 = (
    "BCD\n002\n1\nSCT\nBHBLDEHHXXX\nFranz Mustermänn\nDE71110220330123456789\nEUR12.3\nGDDS\nRF18539007547034"
)

# EMVCo "EMV QR Code Specification for Payment Systems: Merchant-Presented
# Mode", appendix A example, CRC A13A; reproduced as the "official sample" in
# ericsalim/exemvi test/mpm_test.exs and, with the same CRC, in
# mvallim/emv-qrcode src/test/java/com/emv/qrcode/core/CRCTest.java.
EMVCO_OFFICIAL_SAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN"
    "5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***"
    "0708A60086670902ME91320016A0112233449988770708123456786304A13A"
)


def test_epc_example_1_byte_for_byte():
    payload = qr.epc_payload(
        name="Franz Mustermänn", iban="DE71110220330123456789", bic="BHBLDEHHXXX", amount_minor=1230,
        purpose="GDDS", reference="RF18539007547034",
    )
    assert payload == EPC_EXAMPLE_1
    assert len(payload.encode("utf-8")) == 96  # the length segno's test asserts for this example


def test_epc_without_bic_keeps_the_empty_line_version_002_allows():
    payload = qr.epc_payload(name="Red Cross of Belgium", iban="BE72000000001616", amount_minor=100,
                             reference="RF18539007547034")
    # EPC069-12 version 002: the BIC line may be empty; amount "EUR1" as in the
    # guidelines' Red Cross sample (EUR1).
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "", "Red Cross of Belgium", "BE72000000001616", "EUR1", "",
                                   "RF18539007547034"]


@pytest.mark.parametrize("minor, text", [(1230, "EUR12.3"), (500, "EUR5"), (1201, "EUR12.01"), (99_999_999_999, "EUR999999999.99")])
def test_epc_amount_is_written_as_the_guidelines_examples_write_it(minor, text):
    payload = qr.epc_payload(name="A", iban="BE72000000001616", amount_minor=minor, reference="RF18539007547034")
    assert payload.split("\n")[7] == text


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"currency": "GBP"}, "EUR only"),
        ({"amount_minor": 0}, "0.01 to 999999999.99"),
        ({"amount_minor": 100_000_000_000}, "0.01 to 999999999.99"),
        ({"name": ""}, "name is empty"),
        ({"name": "x" * 71}, "at most 70"),
        ({"name": "Two\nlines"}, "line break"),
        ({"iban": "DE71110220330123456788"}, "not a valid IBAN"),  # check digits off by one
        ({"iban": "DE7111022033012345678"}, "not a valid IBAN"),  # a German IBAN is 22 characters
        ({"bic": "BHBLDE"}, "not a valid BIC"),
        ({"reference": "RF19539007547034"}, "ISO 11649"),  # check digits wrong
        ({"text": "Invoice 12"}, "not both"),
    ],
)
def test_epc_refuses_what_the_guidelines_do_not_allow(changes, words):
    arguments = {"name": "Franz Mustermänn", "iban": "DE71110220330123456789", "amount_minor": 1230,
                 "reference": "RF18539007547034", **changes}
    with pytest.raises(UsageError, match=words):
        qr.epc_payload(**arguments)


def test_iso_11649_check_digits_of_the_standards_example():
    # ISO 11649's own example reference, RF18 5390 0754 7034 (also the EPC example above).
    assert qr.creditor_reference("539007547034") == "RF18539007547034"
    assert qr.is_creditor_reference("RF18 5390 0754 7034")
    assert not qr.is_creditor_reference("RF17 5390 0754 7034")


def test_references_found_in_free_text_only_with_good_check_digits():
    text = "SVWZ+RF18 5390 0754 7034 EUR 12,50 thanks; also RF17539007547034 and RF00X"
    assert qr.find_creditor_references(text) == ["RF18539007547034"]
    assert qr.find_creditor_references("ref:rf18539007547034.") == ["RF18539007547034"]


def test_a_spaced_reference_followed_by_words_is_always_found():
    # Where a printed reference ends is not written down ("RF87 2026 1124 K3Q9 FX thanks"):
    # the words after it must never hide it, whatever check digits they happen to make.
    import random

    rng = random.Random(11649)
    for _ in range(300):
        tx_id = "20261124-" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(6))
        reference = qr.reference_for_transaction(tx_id)
        spaced = " ".join(reference[i:i + 4] for i in range(0, len(reference), 4))
        found = qr.find_creditor_references(f"Coffee {spaced} thanks a lot")
        assert reference in found and all(qr.is_creditor_reference(r) for r in found)


def test_every_payment_reference_names_its_transaction():
    reference = qr.reference_for_transaction("20261124-K3Q9FX")
    assert qr.is_creditor_reference(reference) and reference.endswith("20261124K3Q9FX")
    assert qr.transaction_id_of_reference(reference) == "20261124-K3Q9FX"
    assert qr.transaction_id_of_reference("RF18539007547034") is None


def test_crc16_ccitt_false_check_value():
    # The CRC catalogue (reveng) check value of CRC-16/CCITT-FALSE (CRC-16/IBM-3740) for "123456789".
    assert qr.emvco_crc("123456789") == "29B1"


def test_emvco_official_sample_crc():
    assert qr.emvco_crc(EMVCO_OFFICIAL_SAMPLE[:-4]) == "A13A"
    assert qr.emvco_crc_ok(EMVCO_OFFICIAL_SAMPLE)
    assert not qr.emvco_crc_ok(EMVCO_OFFICIAL_SAMPLE[:-4] + "A13B")


def test_emvco_payload_writes_the_official_samples_objects_as_the_sample_does():
    sample = dict(qr.parse_tlv(EMVCO_OFFICIAL_SAMPLE))
    payload = qr.emvco_payload(
        account="29" + f"{len(sample['29']):02d}" + sample["29"] + "31" + f"{len(sample['31']):02d}" + sample["31"],
        mcc="4111", currency_numeric="156", amount="23.72", country="CN", name="BEST TRANSPORT", city="BEIJING",
        reference="RF18539007547034",
    )
    ours = dict(qr.parse_tlv(payload))
    for object_id in ("00", "01", "29", "31", "52", "53", "54", "58", "59", "60"):
        assert ours[object_id] == sample[object_id], object_id
    assert dict(qr.parse_tlv(ours["62"])) == {"01": "RF18539007547034"}  # bill number
    assert payload.startswith("000201010212") and qr.emvco_crc_ok(payload)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"account": ""}, "no merchant account"),
        ({"account": "6304ABCD"}, "not merchant account information"),
        ({"account": "26090105ABCDE"}, "sub-object 00"),  # a template without its identifier
        ({"mcc": "41"}, "four digits"),
        ({"country": "CHN"}, "alpha-2"),
        ({"name": "x" * 26}, "at most 25"),
        ({"city": "北京"}, "printable ASCII"),
    ],
)
def test_emvco_refuses_what_the_specification_does_not_allow(changes, words):
    arguments = {"account": "29300012D156000000000510A93FO3230Q", "mcc": "4111", "currency_numeric": "156",
                 "amount": "23.72", "country": "CN", "name": "BEST TRANSPORT", "city": "BEIJING",
                 "reference": "RF18539007547034", **changes}
    with pytest.raises(UsageError, match=words):
        qr.emvco_payload(**arguments)


def test_the_code_is_drawn_at_level_m_in_utf8():
    code = qr.Drawing(EPC_EXAMPLE_1).code()
    assert code.error == "M" and not code.is_micro and code.version <= 13  # EPC069-12 section 2
