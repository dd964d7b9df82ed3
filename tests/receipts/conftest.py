"""Realistic transactions, as the payment flow journals them, for receipt tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from mpos_cli.transaction import Card, Transaction, TxStatus, TxType


DUBLIN_WINTER = timezone(timedelta(0))
TOKYO = timezone(timedelta(hours=9))
KUWAIT = timezone(timedelta(hours=3))

# The sandbox's test cards (mpos_cli.drivers.sim.test_material), as the reader reports them: masked.
VISA_CONTACTLESS = Card(
    scheme="visa", masked_pan="476173******0010", entry_mode="contactless", cvm="none",
    aid="A0000000031010", application_label="VISA CREDIT", tvr="0000000000", tsi="0000", atc="001C",
    expiry="3012",
)
MASTERCARD_CHIP_PIN = Card(
    scheme="mastercard", masked_pan="541333******0434", entry_mode="chip", cvm="online_pin",
    aid="A0000000041010", application_label="MASTERCARD", tvr="0000008000", tsi="E800", atc="0042",
    expiry="3012",
)
VISA_SWIPE_SIGNATURE = Card(scheme="visa", masked_pan="476173******0010", entry_mode="swipe", cvm="signature")


def _tx(**changes) -> Transaction:
    base = dict(
        id="20261124-K3Q9FX", type=TxType.SALE, status=TxStatus.APPROVED, amount_minor=1250, tip_minor=0,
        currency="EUR", created_at=datetime(2026, 11, 24, 14, 3, 7, tzinfo=DUBLIN_WINTER),
        business_date="2026-11-24", sandbox=True, card=VISA_CONTACTLESS, response_code="00",
        auth_code="A1B2C3", merchant_id="SANDBOX000000001", terminal_id="MPOS0001",
        emv_out={"95": "0000000000", "9B": "0000", "9F26": "1A2B3C4D5E6F7081", "9F27": "40"},
    )
    base.update(changes)
    return Transaction(**base)


@pytest.fixture
def cards() -> SimpleNamespace:
    return SimpleNamespace(
        visa_contactless=VISA_CONTACTLESS,
        mastercard_chip_pin=MASTERCARD_CHIP_PIN,
        visa_swipe_signature=VISA_SWIPE_SIGNATURE,
        visa_full_pan="4761739001010010",  # the sandbox Visa test card: must never be printed whole
    )


@pytest.fixture
def merchant() -> dict[str, str]:
    return {
        "merchant_name": "The Coffee Cart",
        "merchant_address": "12 Quay Street\nGalway H91 X2Y3",
        "merchant_id": "SANDBOX000000001",
        "terminal_id": "MPOS0001",
    }


@pytest.fixture
def make_tx():
    """Any other transaction: ``make_tx(status=..., card=...)``."""
    return _tx


@pytest.fixture
def contactless_sale() -> Transaction:
    """€12.50 + €2.00 tip, tapped under the CVM limit, approved, sandbox."""
    return _tx(tip_minor=200)


@pytest.fixture
def chip_pin_sale() -> Transaction:
    """€75.00 by chip and online PIN, approved, against a real acquirer."""
    return _tx(
        id="20261124-7QK2MD", amount_minor=7500, card=MASTERCARD_CHIP_PIN, sandbox=False, auth_code="XK42P7",
        emv_out={"95": "0000008000", "9B": "E800", "9F26": "8E1F00AB44C2D5E6", "9F27": "40"},
    )


@pytest.fixture
def declined_sale() -> Transaction:
    """€20.51: the sandbox issuer answers 51 insufficient funds."""
    return _tx(
        id="20261124-D51ZZZ", status=TxStatus.DECLINED, amount_minor=2051, card=MASTERCARD_CHIP_PIN,
        response_code="51", auth_code=None, message="insufficient funds",
        emv_out={"95": "0000008000", "9B": "E800", "9F26": "0123456789ABCDEF", "9F27": "80"},
    )


@pytest.fixture
def refund() -> Transaction:
    """A partial refund of €5.00 of the contactless sale."""
    return _tx(
        id="20261125-R5F0ND", type=TxType.REFUND, amount_minor=500, original_id="20261124-K3Q9FX",
        created_at=datetime(2026, 11, 25, 10, 0, 0, tzinfo=DUBLIN_WINTER), business_date="2026-11-25",
        auth_code="R00042", emv_out={},
    )


@pytest.fixture
def void() -> Transaction:
    return _tx(
        id="20261124-V0IDED", type=TxType.VOID, amount_minor=1450, original_id="20261124-K3Q9FX",
        auth_code=None, emv_out={},
    )


@pytest.fixture
def yen_sale() -> Transaction:
    """¥1,500 + ¥150 tip in Tokyo: JPY has no minor units."""
    return _tx(
        id="20261124-JPY150", currency="JPY", amount_minor=1500, tip_minor=150,
        created_at=datetime(2026, 11, 24, 18, 45, 0, tzinfo=TOKYO),
    )


@pytest.fixture
def dinar_sale() -> Transaction:
    """KWD 12.345 + 0.005 tip: three decimals."""
    return _tx(
        id="20261124-KWD123", currency="KWD", amount_minor=12345, tip_minor=5,
        created_at=datetime(2026, 11, 24, 20, 15, 0, tzinfo=KUWAIT),
    )


@pytest.fixture
def every_sample(contactless_sale, chip_pin_sale, declined_sale, refund, void, yen_sale, dinar_sale):
    return [contactless_sale, chip_pin_sale, declined_sale, refund, void, yen_sale, dinar_sale]
