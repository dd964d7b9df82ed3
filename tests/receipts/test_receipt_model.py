"""The receipt model: what each copy of each outcome says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mpos_cli.transaction import Card, TxStatus
from mpos_cli.receipts import Row, build_receipt
from mpos_cli.receipts.model import format_timestamp, mask_for_copy


def rows(receipt) -> dict[str, str]:
    every = (
        receipt.merchant_rows + receipt.amount_rows + (receipt.total,) + receipt.card_rows
        + receipt.authorisation_rows + receipt.reference_rows
    )
    return {row.label: row.value for row in every}


def test_approved_contactless_sale(contactless_sale, merchant):
    receipt = build_receipt(contactless_sale, **merchant)
    assert (receipt.title, receipt.outcome, receipt.tone) == ("SALE", "APPROVED", "positive")
    assert receipt.heading == "SALE APPROVED"
    assert receipt.merchant_name == "The Coffee Cart"
    assert receipt.merchant_address == ("12 Quay Street", "Galway H91 X2Y3")
    assert receipt.timestamp == "2026-11-24 14:03:07 +00:00"
    assert receipt.amount_rows == (Row("Amount", "€12.50"), Row("Tip", "€2.00"))
    assert receipt.total == Row("TOTAL", "€14.50")
    assert receipt.cvm == "No CVM required"
    assert not receipt.signature_line
    assert receipt.copy_label == "CUSTOMER COPY"
    assert receipt.sandbox and receipt.sandbox_banner == "SANDBOX"
    found = rows(receipt)
    assert found["Scheme"] == "VISA"
    assert found["Entry"] == "Contactless"
    assert found["AID"] == "A0000000031010"
    assert found["Application"] == "VISA CREDIT"
    assert found["Auth code"] == "A1B2C3"
    assert found["Response"] == "00 Approved"
    assert found["TVR"] == "0000000000"
    assert found["TSI"] == "0000"
    assert found["TC"] == "1A2B3C4D5E6F7081"  # 9F27 = 40: the card's final word was a TC
    assert found["Transaction"] == "20261124-K3Q9FX"
    assert found["Merchant ID"] == "SANDBOX000000001"
    assert found["Terminal ID"] == "MPOS0001"
    assert "Original transaction" not in found
    assert receipt.reason is None


def test_chip_and_pin_sale_outside_the_sandbox(chip_pin_sale, merchant):
    receipt = build_receipt(chip_pin_sale, **merchant, copy="merchant")
    assert receipt.cvm == "PIN verified online"
    assert receipt.copy_label == "MERCHANT COPY"
    assert not receipt.sandbox and receipt.sandbox_banner is None and receipt.sandbox_notice is None
    assert rows(receipt)["Entry"] == "Chip"
    assert rows(receipt)["Scheme"] == "Mastercard"
    assert rows(receipt)["TVR"] == "0000008000"
    assert receipt.amount_rows == (Row("Amount", "€75.00"),)  # no tip row when there is no tip


def test_declined_sale_says_why_and_claims_no_pin_verification(declined_sale, merchant):
    receipt = build_receipt(declined_sale, **merchant)
    assert (receipt.outcome, receipt.tone) == ("DECLINED", "negative")
    assert rows(receipt)["Response"] == "51 Insufficient funds"
    assert "Auth code" not in rows(receipt)
    assert rows(receipt)["ARQC"] == "0123456789ABCDEF"
    assert receipt.cvm == "PIN entered (online)"
    assert receipt.reason == "Insufficient funds"
    assert receipt.statement == "No money was taken."


def test_refund_names_its_original(refund, merchant):
    receipt = build_receipt(refund, **merchant)
    assert (receipt.title, receipt.outcome) == ("REFUND", "APPROVED")
    assert receipt.amount_rows == (Row("Refund amount", "€5.00"),)
    assert receipt.total == Row("TOTAL", "€5.00")
    assert rows(receipt)["Original transaction"] == "20261124-K3Q9FX"
    assert receipt.statement == "The amount is returned to the card."


def test_void_names_its_original(void, merchant):
    receipt = build_receipt(void, **merchant)
    assert (receipt.title, receipt.outcome) == ("VOID", "APPROVED")
    assert receipt.amount_rows == (Row("Voided amount", "€14.50"),)
    assert rows(receipt)["Original transaction"] == "20261124-K3Q9FX"


@pytest.mark.parametrize(
    ("fixture", "locale", "amount", "tip", "total"),
    [
        ("yen_sale", "en_IE", "JP¥1,500", "JP¥150", "JP¥1,650"),
        ("yen_sale", "ja_JP", "￥1,500", "￥150", "￥1,650"),
        ("dinar_sale", "en_IE", "KWD12.345", "KWD0.005", "KWD12.350"),
        ("dinar_sale", "de_DE", "12,345\xa0KWD", "0,005\xa0KWD", "12,350\xa0KWD"),
        ("contactless_sale", "de_DE", "12,50\xa0€", "2,00\xa0€", "14,50\xa0€"),
    ],
)
def test_amounts_are_exact_in_the_currency_minor_units(request, merchant, fixture, locale, amount, tip, total):
    receipt = build_receipt(request.getfixturevalue(fixture), **merchant, locale=locale)
    assert receipt.amount_rows == (Row("Amount", amount), Row("Tip", tip))
    assert receipt.total == Row("TOTAL", total)


def test_large_amounts_keep_every_digit(make_tx, merchant):
    # 9 999 999 999.99 does not survive a float round trip through formatting; integers do.
    receipt = build_receipt(make_tx(amount_minor=999_999_999_999, tip_minor=0), **merchant)
    assert receipt.total.value == "€9,999,999,999.99"


@pytest.mark.parametrize(
    ("status", "outcome", "tone"),
    [
        (TxStatus.OFFLINE, "STORED OFFLINE", "neutral"),
        (TxStatus.CANCELLED, "CANCELLED", "neutral"),
        (TxStatus.FAILED, "FAILED", "negative"),
        (TxStatus.PENDING, "NOT COMPLETED", "neutral"),
        (TxStatus.VOIDED, "VOIDED", "neutral"),
        (TxStatus.REFUNDED, "REFUNDED", "neutral"),
        (TxStatus.PARTIALLY_REFUNDED, "PARTIALLY REFUNDED", "neutral"),
    ],
)
def test_every_status_has_words(make_tx, merchant, status, outcome, tone):
    receipt = build_receipt(make_tx(status=status), **merchant)
    assert (receipt.outcome, receipt.tone) == (outcome, tone)


def test_partially_refunded_sale_shows_what_was_refunded(make_tx, merchant):
    tx = make_tx(status=TxStatus.PARTIALLY_REFUNDED, tip_minor=200, refunded_minor=500)
    receipt = build_receipt(tx, **merchant)
    assert Row("Refunded", "€5.00") in receipt.amount_rows
    assert receipt.total.value == "€14.50"


def test_customer_copy_shows_last_four_merchant_copy_first_six_and_last_four(contactless_sale, merchant):
    customer = build_receipt(contactless_sale, **merchant, copy="customer")
    merchant_copy = build_receipt(contactless_sale, **merchant, copy="merchant")
    assert rows(customer)["Card"] == "************0010"
    assert rows(merchant_copy)["Card"] == "476173******0010"


@pytest.mark.parametrize("copy", ["customer", "merchant"])
def test_a_full_pan_that_slipped_into_a_record_is_masked_anyway(make_tx, merchant, cards, copy):
    leaked = Card(scheme="visa", masked_pan=cards.visa_full_pan, entry_mode="chip", cvm="online_pin")
    receipt = build_receipt(make_tx(card=leaked), **merchant, copy=copy)
    shown = rows(receipt)["Card"]
    assert cards.visa_full_pan not in shown
    assert shown == ("476173******0010" if copy == "merchant" else "************0010")


@pytest.mark.parametrize(
    ("given", "copy", "shown"),
    [
        ("541333******0434", "merchant", "541333******0434"),
        ("541333******0434", "customer", "************0434"),
        ("5413 3300 8901 0434", "merchant", "541333******0434"),  # spaced full PAN
        ("6759649826438453000", "merchant", "675964*********3000"),  # 19-digit Maestro
        ("************0434", "merchant", "************0434"),
        ("0434", "customer", "0434"),
    ],
)
def test_mask_for_copy(given, copy, shown):
    assert mask_for_copy(given, copy) == shown


def test_signature_line_only_on_the_merchant_copy_of_a_taken_payment(make_tx, merchant, cards):
    tx = make_tx(card=cards.visa_swipe_signature)
    assert build_receipt(tx, **merchant, copy="merchant").signature_line
    assert not build_receipt(tx, **merchant, copy="customer").signature_line
    assert not build_receipt(make_tx(card=cards.visa_swipe_signature, status=TxStatus.DECLINED), **merchant,
                             copy="merchant").signature_line
    assert not build_receipt(make_tx(card=cards.mastercard_chip_pin), **merchant, copy="merchant").signature_line
    assert build_receipt(tx, **merchant).cvm == "Signature"


def test_cancelled_before_a_card_was_read_has_no_card_rows(make_tx, merchant):
    tx = make_tx(status=TxStatus.CANCELLED, card=None, response_code=None, auth_code=None, emv_out={},
                 message="no card was presented")
    receipt = build_receipt(tx, **merchant)
    assert receipt.card_rows == () and receipt.cvm is None
    assert receipt.authorisation_rows == ()
    assert receipt.reason == "No card was presented"
    assert receipt.statement == "No money was taken."


def test_offline_decline_by_the_card(make_tx, merchant):
    tx = make_tx(status=TxStatus.DECLINED, response_code="Z1", auth_code=None, message="the card declined offline")
    receipt = build_receipt(tx, **merchant)
    assert rows(receipt)["Response"] == "Z1 Declined offline by the card"


def test_unknown_response_code_is_shown_as_is(make_tx, merchant):
    receipt = build_receipt(make_tx(status=TxStatus.DECLINED, response_code="N7"), **merchant)
    assert rows(receipt)["Response"] == "N7"


def test_merchant_ids_fall_back_to_the_transaction(contactless_sale):
    receipt = build_receipt(contactless_sale, merchant_name="Stall")
    assert rows(receipt)["Merchant ID"] == "SANDBOX000000001"
    assert receipt.merchant_address == ()


def test_note_is_kept_and_blank_notes_dropped(make_tx, merchant):
    assert build_receipt(make_tx(note="  Two flat whites "), **merchant).note == "Two flat whites"
    assert build_receipt(make_tx(note="   "), **merchant).note is None


def test_unknown_copy_is_refused(contactless_sale, merchant):
    with pytest.raises(ValueError):
        build_receipt(contactless_sale, **merchant, copy="accountant")


def test_timestamp_keeps_odd_offsets():
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == "2026-01-02 03:04:05 +05:30"
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"
