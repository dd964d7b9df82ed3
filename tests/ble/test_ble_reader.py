"""Payments over Bluetooth LE: mpos on hci1, the simulated reader on hci0,
BlueZoo in between (see conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from mpos_cli.drivers.base import HostResponse
from mpos_cli.drivers.registry import open_reader
from mpos_cli.drivers.sim import test_material
from mpos_cli.gateway.sandbox import p2pe
from tests.drivers.issuer_helpers import host_response
from tests.helpers.reader_sessions import pay_through, sale
from mpos_cli.drivers.errors import CardRemoved, ReaderTimeout, ReaderUnavailable
from mpos_cli.errors import ExitStatus, exit_status_of

pytestmark = pytest.mark.ble

HOST = {"adapter": "hci1"}


def pay(spec="ble:mpos-sim", request=None, **options):
    reader = open_reader(spec, options={**HOST, **options})
    result, completion = asyncio.run(pay_through(reader, request or sale()))
    return reader, result, completion


def test_contactless_payment_over_ble_is_approved(peripheral):
    reader, result, completion = pay()
    assert (result.entry_mode, result.cvm, result.decision) == ("contactless", "none", "online")
    assert completion.accepted and completion.emv == {}  # the online answer decides: no second GENERATE AC
    assert reader.transport.kind == "ble"


def test_swipe_fallback_over_ble_is_approved(peripheral):
    reader, result, completion = pay(request=sale(scenario="swipe"))
    assert (result.entry_mode, result.cvm, result.decision) == ("swipe", "signature", "online")
    assert completion.accepted


def test_chip_with_online_pin_over_ble_is_approved(peripheral):
    reader, result, completion = pay(request=sale(scenario="chip"))
    assert (result.entry_mode, result.cvm, result.scheme) == ("chip", "online_pin", "mastercard")
    assert p2pe.pin(result.encrypted_pin_block, test_material.TEST_CARDS["mastercard"].pan) == test_material.SANDBOX_PIN
    assert completion.accepted


def test_a_reader_found_by_address_and_a_small_mtu_still_pays(peripheral_factory):
    peripheral_factory(mtu=23)
    reader, result, completion = pay("ble:00:00:00:11:11:11", request=sale(8000))
    assert result.cvm == "online_pin" and completion.accepted
    # 20-byte ATT payloads: the activate command and its answer took several chunks each.
    stats = reader.transport.stats
    assert stats.writes > reader.client.stats.frames_sent
    assert stats.notifications > reader.client.stats.frames_received


def test_the_cli_charges_through_a_ble_reader(peripheral, mpos):
    result = mpos("charge", "12.50", "--json", env={"MPOS_READER": "ble:mpos-sim", "MPOS_BLE_ADAPTER": "hci1"})
    assert result.exit_code == 0, result
    tx = result.json()
    assert tx["status"] == "approved" and tx["card"]["entry_mode"] == "contactless"


def test_a_reader_that_is_not_there_is_unavailable(peripheral):
    reader = open_reader("ble:nobody-here", options={**HOST, "scan_timeout_s": 3})
    with pytest.raises(ReaderUnavailable) as caught:
        asyncio.run(reader.connect())
    assert caught.value.reason == "not_found" and exit_status_of(caught.value) == ExitStatus.READER_UNAVAILABLE
    assert "nobody-here" in caught.value.message


def test_an_adapter_that_does_not_exist_is_unavailable(ble_env):
    reader = open_reader("ble:mpos-sim", options={"adapter": "hci7", "scan_timeout_s": 3})
    with pytest.raises(ReaderUnavailable) as caught:
        asyncio.run(reader.connect())
    assert caught.value.reason == "adapter_not_found" and "hci7" in caught.value.message


def test_a_reader_that_dies_mid_payment_is_unavailable_and_works_again_when_back(peripheral_factory):
    first = peripheral_factory()
    reader = open_reader("ble:mpos-sim", options=HOST)

    async def start_then_lose_the_reader():
        async with reader:
            result = await reader.start_transaction(sale(scenario="chip"))
            first.kill()
            await reader.complete(host_response(result, 1250))

    with pytest.raises(ReaderUnavailable) as caught:
        asyncio.run(start_then_lose_the_reader())
    assert caught.value.reason == "disconnected"
    assert exit_status_of(caught.value) == ExitStatus.READER_UNAVAILABLE

    peripheral_factory()  # switched on again
    _, _, completion = pay()
    assert completion.accepted


def test_a_card_removed_over_ble_is_a_cancellation(peripheral):
    with pytest.raises(CardRemoved) as caught:
        pay(request=sale(scenario="removed"))
    assert exit_status_of(caught.value) == ExitStatus.CANCELLED


def test_no_card_over_ble_is_a_reader_timeout(peripheral):
    with pytest.raises(ReaderTimeout) as caught:
        pay(request=sale(scenario="no-card"))
    assert exit_status_of(caught.value) == ExitStatus.CANCELLED


def test_scan_lists_the_simulated_reader(peripheral):
    from mpos_cli.drivers.transport.ble import scan

    found = asyncio.run(scan(timeout_s=3, adapter="hci1"))
    assert any(r.name == "mpos-sim" and r.address == "00:00:00:11:11:11" and r.advertises_service for r in found)
