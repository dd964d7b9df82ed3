"""The simulated reader as a device: what a NEO 2 reader with a customer in
front of it does, independent of how the host reaches it.

It answers NEO 2 commands in terms of (status, TLV data): Activate
Transaction runs the EMV kernel against a ``SimulatedCard`` chosen by the
scenario (SPEC §4), Continue Transaction hands the issuer's answer to the
card. Card data leaves only sealed; no full PAN, track or PIN is ever put
in a TLV in clear. The framing (drivers/neo2) and the transports (memory,
Bluetooth LE) sit in front of this class and never change what it does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from mpos_cli.drivers.neo2 import codes
from mpos_cli.drivers.neo2.codes import ErrorCode, Status
from mpos_cli.drivers.sim.card import CID_AAC, SimulatedCard
from mpos_cli.drivers.sim import test_material

SCENARIOS = ("contactless", "chip", "swipe", "removed", "no-card", "offline-decline")
DEFAULT_SCENARIO = "contactless"

# How each scenario's card meets the reader.
ENTRY_MODE = {
    "contactless": "contactless",
    "chip": "chip",
    "swipe": "swipe",
    "removed": "contactless",
    "no-card": "contactless",
    "offline-decline": "chip",
}

FIRMWARE = "NEO2-SIM 1.0"
MODEL = "NEO 2 simulator"

# Terminal data the reader adds on its own (EMV Book 4): capabilities (chip,
# magstripe, contactless; online PIN, signature, no CVM), attended merchant
# terminal, and a fixed interface device serial.
TERMINAL_CAPABILITIES = "E0F8C8"
TERMINAL_TYPE = "22"

# TVR bits (EMV Book 3 Annex C5) and TSI bits (Annex C6) the kernel sets.
TVR_FLOOR_LIMIT_EXCEEDED = (3, 0x80)  # zero floor limit: every payment goes online
TVR_ONLINE_PIN_ENTERED = (2, 0x04)
TSI_CVM_PERFORMED = 0x40
TSI_CARD_RISK_MANAGEMENT = 0x20
TSI_TERMINAL_RISK_MANAGEMENT = 0x08

# CVM results (9F34): method, condition, result.
CVM_RESULTS = {"none": "1F0302", "online_pin": "420300", "signature": "1E0300"}


@dataclass
class DeviceAnswer:
    status: Status
    data: dict[str, str] = field(default_factory=dict)  # TLV: tag -> hex value
    error_code: ErrorCode | None = None  # with FAILED: why


@dataclass
class _Pending:
    card: SimulatedCard | None  # None for a swipe: no chip to ask
    entry_mode: str


class SimulatedReaderDevice:
    """One simulated NEO 2 reader with its own cards (whose ATCs advance)."""

    def __init__(self, *, cvm_limit_minor: int = 5000, serial: str = "SIM00000001", battery_percent: int = 87) -> None:
        if cvm_limit_minor < 0:
            raise ValueError("the contactless CVM limit cannot be negative")
        self.cvm_limit_minor = cvm_limit_minor
        self.serial = serial
        self.battery_percent = battery_percent
        self.firmware = FIRMWARE
        self.model = MODEL
        self.last_message: str | None = None
        self._cards: dict[str, SimulatedCard] = {}
        self._pending: _Pending | None = None

    def _card(self, scheme: str) -> SimulatedCard:
        if scheme not in self._cards:
            self._cards[scheme] = SimulatedCard.for_scheme(scheme)
        return self._cards[scheme]

    # -- Activate Transaction (02-01) -----------------------------------------

    def activate_transaction(self, request: dict[str, str]) -> DeviceAnswer:
        self._pending = None
        scenario_hex = request.get(codes.TAG_SIM_SCENARIO)
        scenario = bytes.fromhex(scenario_hex).decode("ascii", "replace") if scenario_hex else DEFAULT_SCENARIO
        if scenario not in SCENARIOS:
            return DeviceAnswer(Status.INCORRECT_PARAMETER, {codes.TAG_DECLINE_REASON: _ascii(f"unknown scenario {scenario}")})
        try:
            amount_minor = int(request["9F02"])
            terminal = {
                "9F02": f"{amount_minor:012d}",
                "9F03": request.get("9F03", "000000000000"),
                "9F1A": request["9F1A"],
                "5F2A": request["5F2A"],
                "9A": request["9A"],
                "9F21": request.get("9F21", "000000"),
                "9C": request.get("9C", "00"),
            }
            for tag, size in (("9F1A", 2), ("5F2A", 2), ("9A", 3), ("9C", 1), ("9F21", 3)):
                if len(bytes.fromhex(terminal[tag])) != size:
                    raise ValueError(tag)
        except (KeyError, ValueError):
            return DeviceAnswer(Status.INCORRECT_PARAMETER)

        if scenario == "no-card":
            # Nobody tapped, inserted or swiped before the timeout ran out.
            return DeviceAnswer(Status.TIMEOUT)

        entry_mode = ENTRY_MODE[scenario]
        card = self._card(test_material.SCENARIO_CARD[scenario])
        if entry_mode == "swipe":
            cvm = "signature"
        elif entry_mode == "chip" or amount_minor > self.cvm_limit_minor:
            cvm = "online_pin"
        else:
            cvm = "none"

        out = dict(terminal)
        out.update({
            "9F37": secrets.token_hex(4).upper(),  # unpredictable number
            "9F33": TERMINAL_CAPABILITIES,
            "9F35": TERMINAL_TYPE,
            "9F1E": _ascii(self.serial[-8:]),
            codes.TAG_POS_ENTRY_MODE: codes.ENTRY_MODE_CODES[entry_mode],
            codes.TAG_TRACK_DATA_SOURCE: codes.TRACK_SOURCES[entry_mode],
            codes.TAG_TRANSACTION_CVM: codes.CVM_CODES[cvm],
            codes.TAG_SEALED_CARD_DATA: _ascii(card.sealed_card_data()),
            codes.TAG_MASKED_PAN: _ascii(card.card.masked_pan),
            codes.TAG_SCHEME: _ascii(card.card.scheme),
            "5F24": card.card.expiry + "31",
        })
        if cvm == "online_pin":
            # The simulated customer types the sandbox PIN on the reader's keypad.
            out[codes.TAG_SEALED_PIN_BLOCK] = _ascii(test_material.seal({"pin": test_material.SANDBOX_PIN}, "pin"))

        if entry_mode == "swipe":
            # Magnetic stripe: no chip, no cryptogram; the host goes online.
            self._pending = _Pending(None, entry_mode)
            return DeviceAnswer(Status.REQUEST_ONLINE_AUTHORIZATION, out)

        out.update(card.application_data())
        out["9F06"] = card.card.aid
        out["9F34"] = CVM_RESULTS[cvm]
        tvr = bytearray(5)
        _set(tvr, TVR_FLOOR_LIMIT_EXCEEDED)
        if cvm == "online_pin":
            _set(tvr, TVR_ONLINE_PIN_ENTERED)
        tsi = TSI_CARD_RISK_MANAGEMENT | TSI_TERMINAL_RISK_MANAGEMENT | (TSI_CVM_PERFORMED if cvm != "none" else 0)
        out["95"], out["9B"] = tvr.hex().upper(), f"{tsi:02X}00"

        if scenario == "removed":
            # The card was read, then left the field before GENERATE AC answered.
            return DeviceAnswer(Status.FAILED, error_code=ErrorCode.CARD_COMMUNICATION_ERROR)

        out.update(card.first_generate_ac(out, decline_offline=scenario == "offline-decline"))
        if out["9F27"] == CID_AAC:
            return DeviceAnswer(Status.OK, out)  # finished at the card: declined offline
        self._pending = _Pending(card, entry_mode)
        return DeviceAnswer(Status.REQUEST_ONLINE_AUTHORIZATION, out)

    # -- Continue Transaction (02-05): the issuer's answer to the card ----------

    def continue_transaction(self, request: dict[str, str]) -> DeviceAnswer:
        pending, self._pending = self._pending, None
        if pending is None:
            return DeviceAnswer(Status.COMMAND_NOT_ALLOWED)
        response_code = request.get(codes.TAG_ONLINE_RESPONSE_CODE)
        unable = request.get(codes.TAG_UNABLE_TO_GO_ONLINE) == "01"
        approved = not unable and response_code == "3030"
        if pending.card is None:  # swipe: the host's word is final
            answer = {} if approved else {codes.TAG_DECLINE_REASON: _ascii("issuer_declined")}
            return DeviceAnswer(Status.OK if approved else Status.FAILED, answer)
        accepted, reason, tags = pending.card.second_generate_ac(
            approved=approved,
            response_code_8a=response_code,
            issuer_authentication_91=request.get(codes.TAG_ISSUER_AUTHENTICATION),
            unable_to_go_online=unable,
        )
        if reason:
            tags[codes.TAG_DECLINE_REASON] = _ascii(reason)
        return DeviceAnswer(Status.OK if accepted else Status.FAILED, tags)

    # -- the rest ----------------------------------------------------------------

    def cancel_transaction(self) -> DeviceAnswer:
        self._pending = None
        return DeviceAnswer(Status.OK)

    def display_message(self, text: str) -> DeviceAnswer:
        self.last_message = text
        return DeviceAnswer(Status.OK)

    def reader_status(self) -> DeviceAnswer:
        return DeviceAnswer(Status.OK, {
            codes.TAG_BATTERY_PERCENT: f"{self.battery_percent:02X}",
            codes.TAG_MODEL: _ascii(self.model),
        })


def _ascii(text: str) -> str:
    return text.encode("ascii").hex().upper()


def _set(register: bytearray, bit: tuple[int, int]) -> None:
    index, mask = bit
    register[index] |= mask
