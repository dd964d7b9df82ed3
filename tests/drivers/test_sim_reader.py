"""The simulated reader: real EMV cryptograms, and every SPEC §4 scenario."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from mpos_cli.drivers.base import HostResponse, TransactionRequest
from mpos_cli.drivers.registry import open_reader
from mpos_cli.drivers.sim.device import SimulatedReaderDevice
from mpos_cli.drivers.sim.reader import SimulatedReader
from mpos_cli.drivers.sim import test_material
from mpos_cli.gateway.sandbox import p2pe
from mpos_cli.drivers.errors import CardRemoved, ReaderTimeout
from mpos_cli.drivers.errors import ReaderRequestError
from mpos_cli.errors import ExitStatus, exit_status_of

REQUIRED_TAGS = "9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 9F10 9F26 9F27 4F 50 5F34 84".split()
FORBIDDEN_TAGS = ("57", "5A", "5F20")
WHEN = datetime(2025, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


def request(amount_minor=1250, scenario=None):
    return TransactionRequest(amount_minor=amount_minor, currency_numeric="978", currency_exponent=2,
                              transaction_date=WHEN, scenario=scenario)


def run(coro):
    return asyncio.run(coro)


async def _start(reader, req):
    async with reader:
        return await reader.start_transaction(req)


def start(req, reader=None):
    return run(_start(reader or SimulatedReader(), req))


def issuer_answer(result, response_code="00"):
    """What the sandbox issuer does: decrypt, verify the ARQC, make the ARPC."""
    card = next(c for c in test_material.TEST_CARDS.values() if c.pan == p2pe.card_data(result.encrypted_card_data).pan)
    expected = test_material.application_cryptogram(card.pan, card.psn, card.cvn, result.emv)
    tag_91 = test_material.issuer_authentication_data(
        card.pan, card.psn, card.cvn, result.emv["9F26"], result.emv["9F36"], response_code)
    return expected, HostResponse(approved=response_code == "00", response_code=response_code,
                                  emv={"8A": response_code.encode().hex().upper(), "91": tag_91})


async def _pay(reader, req, answer=issuer_answer, tamper=None):
    async with reader:
        result = await reader.start_transaction(req)
        expected, response = answer(result)
        if tamper:
            response = tamper(response)
        return result, expected, await reader.complete(response)


def pay(req, reader=None, **kwargs):
    return run(_pay(reader or SimulatedReader(), req, **kwargs))


@pytest.mark.parametrize("scenario", ["chip"])
def test_arqc_verifies_at_the_issuer_and_the_card_accepts_the_arpc(scenario):
    result, expected_arqc, completion = pay(request(scenario=scenario))
    assert result.decision == "online" and result.emv["9F27"] == "80"
    assert result.emv["9F26"] == expected_arqc
    assert completion.accepted and completion.emv["9F27"] == "40" and completion.reason is None
    assert completion.emv["9F26"] != result.emv["9F26"]  # a TC, not the ARQC again


def test_contactless_the_online_answer_decides_without_a_second_generate_ac():
    device = SimulatedReaderDevice()
    reader = SimulatedReader(device=device)
    result, _, completion = pay(request(), reader=reader)
    assert result.entry_mode == "contactless" and completion.accepted and completion.emv == {}
    assert device._cards["visa:False"].atc == int(result.emv["9F36"], 16)  # one GENERATE AC only
    declined = run(_pay(SimulatedReader(), request(), answer=lambda r: issuer_answer(r, "51")))[2]
    assert not declined.accepted and declined.reason == "issuer_declined"


def test_an_approval_without_issuer_authentication_data_is_left_to_the_card():
    def without_91(response):
        return HostResponse(True, "00", {"8A": "3030"})

    # EMV Book 3 §10.9: no 91, no EXTERNAL AUTHENTICATE; this card's risk management accepts...
    _, _, accepted = pay(request(scenario="chip"), tamper=without_91)
    assert accepted.accepted and accepted.emv["9F27"] == "40"
    assert not int(accepted.emv["9B"][:2], 16) & 0x10  # TSI: issuer authentication not performed
    # ... and a card that insists on issuer authentication answers an AAC.
    _, _, refused = pay(request(scenario="issuer-auth-required"), tamper=without_91)
    assert not refused.accepted and refused.emv["9F27"] == "00"


def test_a_tampered_issuer_authentication_makes_the_card_refuse():
    def flip_last_arpc_byte(response):
        tag_91 = bytearray.fromhex(response.emv["91"])
        tag_91[3] ^= 0x01
        return HostResponse(True, "00", {**response.emv, "91": tag_91.hex().upper()})

    _, _, completion = pay(request(scenario="chip"), tamper=flip_last_arpc_byte)
    assert not completion.accepted
    assert completion.reason == "arpc_mismatch" and completion.emv["9F27"] == "00"
    assert int(completion.emv["95"][8:10], 16) & 0x40  # TVR: issuer authentication failed


def test_a_genuine_decline_from_the_issuer_ends_in_an_aac():
    _, _, completion = pay(request(scenario="chip"), answer=lambda r: issuer_answer(r, "51"))
    assert not completion.accepted and completion.reason == "issuer_declined"
    assert completion.emv["9F27"] == "00"


def test_an_issuer_answer_for_another_cryptogram_is_refused():
    reader = SimulatedReader()

    async def replay():
        async with reader:
            first = await reader.start_transaction(request(scenario="chip"))
            _, old_response = issuer_answer(first)
            await reader.complete(old_response)
            await reader.start_transaction(request(scenario="chip"))
            return await reader.complete(old_response)  # the ARPC of the previous payment

    completion = run(replay())
    assert not completion.accepted and completion.reason == "arpc_mismatch"


def test_card_result_carries_the_emv_data_an_acquirer_needs_and_no_card_secrets():
    for scenario in ("contactless", "chip"):
        result = start(request(scenario=scenario))
        assert set(REQUIRED_TAGS) <= result.emv.keys(), scenario
        assert not set(FORBIDDEN_TAGS) & result.emv.keys()
        card = test_material.TEST_CARDS[result.scheme]
        assert card.pan not in repr(result)
        assert result.masked_pan == test_material.mask_pan(card.pan)
        assert p2pe.card_data(result.encrypted_card_data).pan == card.pan


def test_the_atc_counts_up_and_the_unpredictable_number_changes():
    reader = SimulatedReader()

    async def two():
        async with reader:
            return [await reader.start_transaction(request()) for _ in range(2)]

    first, second = run(two())
    assert int(second.emv["9F36"], 16) == int(first.emv["9F36"], 16) + 1
    assert first.emv["9F37"] != second.emv["9F37"]


@pytest.mark.parametrize("amount_minor, cvm", [(4999, "none"), (5000, "none"), (5001, "online_pin")])
def test_contactless_asks_for_a_pin_only_above_the_cvm_limit(amount_minor, cvm):
    result = start(request(amount_minor))
    assert (result.entry_mode, result.scheme, result.cvm) == ("contactless", "visa", cvm)
    assert (result.encrypted_pin_block is not None) == (cvm == "online_pin")


def test_the_cvm_limit_is_a_reader_option():
    assert start(request(2500), SimulatedReader(cvm_limit_minor=2000)).cvm == "online_pin"
    assert start(request(2500), SimulatedReader(cvm_limit_minor=3000)).cvm == "none"


def test_chip_with_online_pin_hands_over_the_encrypted_pin_block():
    result = start(request(scenario="chip"))
    assert (result.entry_mode, result.cvm, result.scheme) == ("chip", "online_pin", "mastercard")
    assert p2pe.pin(result.encrypted_pin_block, test_material.TEST_CARDS["mastercard"].pan) == test_material.SANDBOX_PIN
    assert test_material.SANDBOX_PIN not in repr(result)


def test_swipe_has_no_cryptogram_and_asks_for_a_signature():
    result = start(request(scenario="swipe"))
    assert (result.entry_mode, result.cvm, result.decision) == ("swipe", "signature", "online")
    assert "9F26" not in result.emv and not set(FORBIDDEN_TAGS) & result.emv.keys()
    completion = run(_swipe_complete())
    assert completion.accepted


async def _swipe_complete():
    async with SimulatedReader() as reader:
        await reader.start_transaction(request(scenario="swipe"))
        return await reader.complete(HostResponse(True, "00"))


def test_removed_card_is_a_cancellation():
    with pytest.raises(CardRemoved) as caught:
        start(request(scenario="removed"))
    assert exit_status_of(caught.value) == ExitStatus.CANCELLED and caught.value.reason == "card_removed"


def test_no_card_is_a_reader_timeout():
    with pytest.raises(ReaderTimeout) as caught:
        start(request(scenario="no-card"))
    assert exit_status_of(caught.value) == ExitStatus.CANCELLED and caught.value.reason == "no_card"


def test_offline_decline_is_an_aac_before_going_online():
    result = start(request(scenario="offline-decline"))
    assert result.decision == "declined" and result.emv["9F27"] == "00"
    assert result.entry_mode == "chip"


def test_an_unknown_scenario_is_a_usage_error():
    with pytest.raises(ReaderRequestError) as caught:
        start(request(scenario="tap-twice"))
    assert exit_status_of(caught.value) == ExitStatus.USAGE and "tap-twice" in caught.value.message


def test_status_names_the_simulator():
    async def status():
        async with SimulatedReader(name="counter-1") as reader:
            return await reader.status()

    status_ = run(status())
    assert status_.connected and status_.name == "counter-1" and status_.firmware == "NEO2-SIM 1.0"
    assert status_.transport == "memory" and 0 <= status_.battery_percent <= 100


def test_open_reader_builds_the_simulator_with_the_configured_cvm_limit():
    options = {"cvm_limit_minor": 1000, "adapter": None, "service_uuid": "x", "write_uuid": "y",
               "notify_uuid": "z", "timeout_s": 30.0}
    reader = open_reader("sim", options=options)
    assert isinstance(reader, SimulatedReader)
    assert start(request(1500), reader).cvm == "online_pin"


@pytest.mark.parametrize("spec", ["nfc-wand", "ble:", "ble"])
def test_open_reader_refuses_specs_it_cannot_resolve(spec):
    with pytest.raises(ReaderRequestError):
        open_reader(spec, options={})
