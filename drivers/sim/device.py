"""The simulated reader as a device: what a NEO 2 reader with a customer in
front of it does, independent of how the host reaches it.

It answers the guide's commands in terms of (status, data): Activate
Transaction 02-40 runs a contactless kernel against a ``SimulatedCard``
chosen by the scenario (SPEC §4); Contact Start / Authenticate / Apply Host
Response (60-10, 60-11, 60-12) run a contact EMV transaction, or take a
swipe when the chip fails (fallback). Card data leaves only as the guide's
masked and DUKPT-encrypted objects (drivers/sim/encryption.py); no PAN,
track or PIN is ever put in a TLV in clear. The framing (drivers/neo2) and
the transports (memory, Bluetooth LE) sit in front of this class and never
change what it does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from mpos_cli.drivers.sim import test_material
from mpos_cli.drivers.neo2 import codes, tlv
from mpos_cli.drivers.neo2.codes import ContactResult, ErrorCode, Status
from mpos_cli.drivers.sim import encryption
from mpos_cli.drivers.sim.card import CID_AAC, CardStateError, SimulatedCard

SCENARIOS = ("contactless", "chip", "swipe", "removed", "no-card", "offline-decline", "issuer-auth-required")
DEFAULT_SCENARIO = "contactless"
CONTACTLESS_SCENARIOS = ("contactless", "removed", "no-card")

FIRMWARE = "NEO2-SIM 1.0"
MODEL = "NEO 2 simulator"

# Terminal data the reader adds on its own (EMV Book 4): capabilities (chip,
# magstripe, contactless; online PIN, signature, no CVM), attended merchant
# terminal.
TERMINAL_CAPABILITIES = "E0F8C8"
TERMINAL_TYPE = "22"

# TVR bits (EMV Book 3 Annex C5) and TSI bits (Annex C6) the kernel sets.
TVR_FLOOR_LIMIT_EXCEEDED = (3, 0x80)  # zero floor limit: every payment goes online
TVR_ONLINE_PIN_ENTERED = (2, 0x04)
TSI_CVM_PERFORMED = 0x40
TSI_CARD_RISK_MANAGEMENT = 0x20
TSI_TERMINAL_RISK_MANAGEMENT = 0x08

# CVM results (9F34): method, condition, result (EMV Book 3 Annex C3).
CVM_RESULTS = {"none": "1F0302", "online_pin": "420300", "signature": "1E0300"}


@dataclass
class DeviceAnswer:
    status: Status
    prefix: bytes = b""  # 02-40: the Attribution byte
    objects: list[tlv.TlvObject] = field(default_factory=list)

    def data(self) -> bytes:
        return self.prefix + tlv.encode_objects(self.objects)


def _plain(tags: dict[str, str]) -> list[tlv.TlvObject]:
    return [tlv.TlvObject(tag, bytes.fromhex(value)) for tag, value in tags.items()]


def _group(**tags: str) -> tlv.TlvObject:
    """FFEE01, the ViVOpay group tag, around DF30 / DF52 (guide p. 216, 238)."""
    return tlv.TlvObject(codes.TAG_GROUP, tlv.encode(tags))


# DFEE26 for a contact transaction, TDES, encryption on (p. 238; the value
# ID TECH's contact test scripts expect: "DFEE26 02 E000").
CONTACT_ENCRYPT_INFORMATION = "E000"


def _contact(code: ContactResult, objects: list[tlv.TlvObject] | None = None) -> DeviceAnswer:
    """A 60-1x final answer: the result code in DFEE25 first, as ID TECH's
    readers send it, then DFEE26 and the transaction's objects."""
    head = _plain({codes.TAG_CONTACT_RESULT: f"{int(code):04X}",
                   codes.TAG_ENCRYPT_INFORMATION: CONTACT_ENCRYPT_INFORMATION})
    return DeviceAnswer(Status.OK, b"", head + (objects or []))


@dataclass
class _Pending:
    card: SimulatedCard
    stage: str  # "started" (after 60-10) | "online" (after 60-11 went online)
    scenario: str
    terminal: dict[str, str]
    read: dict[str, str]  # what 60-10 read, plain tags


class SimulatedReaderDevice:
    """One simulated NEO 2 reader with its own cards (whose ATCs advance)."""

    def __init__(self, *, cvm_limit_minor: int = 5000, serial: str = "SIM00000001", battery_percent: int = 87,
                 clock=None) -> None:
        if cvm_limit_minor < 0:
            raise ValueError("the contactless CVM limit cannot be negative")
        self.cvm_limit_minor = cvm_limit_minor
        self.serial = serial
        self.battery_percent = battery_percent
        self.firmware = FIRMWARE
        self.model = MODEL
        self.last_message: str | None = None
        self.clock = clock or (lambda: datetime.now().astimezone())
        # Keys injected at the "factory": initial keys only, never the BDK.
        self.data_key = encryption.DukptKey.injected(test_material.SANDBOX_BDK, test_material.SANDBOX_DATA_IKSN)
        self.pin_key = encryption.DukptKey.injected(test_material.SANDBOX_BDK, test_material.SANDBOX_PIN_IKSN)
        self._cards: dict[str, SimulatedCard] = {}
        self._pending: _Pending | None = None

    def _card(self, scenario: str) -> SimulatedCard:
        scheme = test_material.SCENARIO_CARD[scenario]
        key = f"{scheme}:{scenario == 'issuer-auth-required'}"
        if key not in self._cards:
            self._cards[key] = SimulatedCard.for_scheme(
                scheme, requires_issuer_authentication=scenario == "issuer-auth-required")
        return self._cards[key]

    # -- what both interfaces share -----------------------------------------------

    def _terminal(self, request: dict[str, str]) -> tuple[str | None, dict[str, str]]:
        """(scenario, the terminal's transaction data) or raise ValueError."""
        scenario_hex = request.get(codes.TAG_SIM_SCENARIO)
        scenario = bytes.fromhex(scenario_hex).decode("ascii", "replace") if scenario_hex else DEFAULT_SCENARIO
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario}")
        now = self.clock()
        amount_minor = int(request["9F02"])
        terminal = {
            "9F02": f"{amount_minor:012d}",
            "9F03": request.get("9F03", "000000000000"),
            "9F1A": request.get("9F1A", "0372"),
            "5F2A": request["5F2A"],
            "9A": request.get("9A") or now.strftime("%y%m%d"),  # the reader's clock (9A is deprecated)
            "9F21": request.get("9F21") or now.strftime("%H%M%S"),
            "9C": request.get("9C", "00"),
        }
        for tag, size in (("9F1A", 2), ("5F2A", 2), ("9A", 3), ("9C", 1), ("9F21", 3)):
            if len(bytes.fromhex(terminal[tag])) != size:
                raise ValueError(tag)
        return scenario, terminal

    def _reader_data(self, entry_mode: str, cvm: str) -> dict[str, str]:
        return {
            "9F37": secrets.token_hex(4).upper(),  # unpredictable number
            "9F33": TERMINAL_CAPABILITIES,
            "9F35": TERMINAL_TYPE,
            "9F1E": self.serial[-8:].encode("ascii").hex().upper(),
            "9F34": CVM_RESULTS[cvm],
        }

    def _card_objects(self, card: SimulatedCard) -> list[tlv.TlvObject]:
        clear = {"5A": card.pan_bcd(), "57": card.track2_equivalent()}
        masked = {tag: encryption.mask_bcd(value) for tag, value in clear.items()}
        return encryption.sensitive_objects(self.data_key, clear, masked)

    def _pin_objects(self, card: SimulatedCard) -> list[tlv.TlvObject]:
        # The simulated customer types the sandbox PIN on the reader's keypad.
        return encryption.pin_objects(self.pin_key, test_material.SANDBOX_PIN, card.card.pan)

    @staticmethod
    def _risk(cvm: str) -> dict[str, str]:
        tvr = bytearray(5)
        _set(tvr, TVR_FLOOR_LIMIT_EXCEEDED)
        if cvm == "online_pin":
            _set(tvr, TVR_ONLINE_PIN_ENTERED)
        tsi = TSI_CARD_RISK_MANAGEMENT | TSI_TERMINAL_RISK_MANAGEMENT | (TSI_CVM_PERFORMED if cvm != "none" else 0)
        return {"95": tvr.hex().upper(), "9B": f"{tsi:02X}00"}

    # -- Activate Transaction (02-40), guide §8.5.1 / §8.5.3 -------------------------------

    def cvm_for(self, scenario: str | None, amount_minor: int) -> str:
        """The cardholder verification the scenario's card asks for: online PIN
        for a chip card (its CVM list: online PIN first) and for contactless
        above the CVM limit; none for a swipe here (the reader has no PIN pad
        for it) or contactless under the limit."""
        scenario = scenario or DEFAULT_SCENARIO
        if scenario in CONTACTLESS_SCENARIOS:
            return "online_pin" if amount_minor > self.cvm_limit_minor else "none"
        return "none" if scenario == "swipe" else "online_pin"

    def activate_transaction(self, request: dict[str, str]) -> DeviceAnswer:
        self._pending = None
        attribution = bytes((codes.ATTRIBUTION_ENCRYPTION_ON | codes.ATTRIBUTION_CONTACTLESS_EMV,))
        try:
            scenario, terminal = self._terminal(request)
        except (KeyError, ValueError):
            return DeviceAnswer(Status.INCORRECT_PARAMETER)
        if scenario == "no-card":
            return DeviceAnswer(Status.TIMEOUT)  # nobody tapped before the timeout ran out
        if scenario not in CONTACTLESS_SCENARIOS:
            # The scenario's card is inserted or swiped, not tapped: nothing in the field.
            return DeviceAnswer(Status.TIMEOUT)
        card = self._card(scenario)
        amount_minor = int(terminal["9F02"])
        cvm = self.cvm_for(scenario, amount_minor)
        tags = {**terminal, **self._reader_data("contactless", cvm), **card.application_data(), **self._risk(cvm)}
        tags["9F06"] = card.card.aid
        objects = [tlv.TlvObject(codes.TAG_POS_ENTRY_MODE, bytes.fromhex("07")),
                   _group(DF30=codes.TRACK_SOURCES["contactless"], DF52=codes.CVM_CODES[cvm])]
        if scenario == "removed":
            # The card was read, then left the field before GENERATE AC answered.
            error = tlv.TlvObject(codes.TAG_ERROR_TABLE, bytes((ErrorCode.CARD_COMMUNICATION_ERROR, 0, 0, 0)))
            return DeviceAnswer(Status.FAILED, attribution, [error, *objects])
        tags.update(card.first_generate_ac(tags))
        objects = _plain(tags) + objects + self._card_objects(card)
        if cvm == "online_pin":
            objects += self._pin_objects(card)
        # Contactless: the card has left the field; nothing is pending at the
        # reader, the issuer's answer decides.
        return DeviceAnswer(Status.REQUEST_ONLINE_AUTHORIZATION, attribution, objects)

    # -- Contact Start Transaction (60-10), §8.4.18 -------------------------------------------

    def contact_start(self, data: bytes) -> DeviceAnswer:
        self._pending = None
        if len(data) < 5:
            return DeviceAnswer(Status.INCORRECT_PARAMETER)
        fallback = data[0] == 0x01
        try:
            scenario, terminal = self._terminal(tlv.decode(data[5:]))
        except (KeyError, ValueError):
            return DeviceAnswer(Status.INCORRECT_PARAMETER)
        if scenario in CONTACTLESS_SCENARIOS:
            return DeviceAnswer(Status.TIMEOUT)  # no card inserted nor swiped
        card = self._card(scenario)
        if scenario == "swipe":
            if not fallback:
                return _contact(ContactResult.USE_MAGSTRIPE)
            # The chip does not answer; the customer swipes: the stripe as a
            # stock reader gives it, an Enhanced Encrypted MSR block in DFEE23
            # (guide p. 185, 238; 80000502-001), track 2 masked and encrypted.
            block = encryption.swipe_block(self.data_key, card.track2_ascii(), serial=self.serial)
            objects = [tlv.TlvObject(codes.TAG_POS_ENTRY_MODE, bytes.fromhex("80")),  # fallback to stripe
                       _group(DF30=codes.TRACK_SOURCES["swipe"], DF52=codes.CVM_CODES["signature"]),
                       *_plain({"5F2A": terminal["5F2A"], "9F02": terminal["9F02"]}),
                       tlv.TlvObject(codes.TAG_MSR_DATA, block)]
            return _contact(ContactResult.MSR_SUCCESS, objects)
        read = {**card.application_data(), "9F39": "05"}
        self._pending = _Pending(card, "started", scenario, terminal, read)
        objects = _plain(read) + [_group(DF30=codes.TRACK_SOURCES["chip"])] + self._card_objects(card)
        return _contact(ContactResult.START_TRANSACTION_SUCCESS, objects)

    # -- Contact Authenticate Transaction (60-11), §8.4.19 ----------------------------------

    def contact_authenticate(self, data: bytes) -> DeviceAnswer:
        pending = self._pending
        if pending is None or pending.stage != "started":
            return DeviceAnswer(Status.COMMAND_NOT_ALLOWED)
        card, cvm = pending.card, "online_pin"  # the chip card's CVM list: online PIN first
        tags = {**pending.terminal, **self._reader_data("chip", cvm), **pending.read, **self._risk(cvm)}
        tags["9F06"] = card.card.aid
        tags.update(card.first_generate_ac(tags, decline_offline=pending.scenario == "offline-decline"))
        objects = _plain(tags) + self._pin_objects(card)
        if tags["9F27"] == CID_AAC:
            self._pending = None
            return _contact(ContactResult.DECLINED_OFFLINE, objects)
        pending.stage = "online"
        return _contact(ContactResult.GO_ONLINE, objects)

    # -- Contact Apply Host Response (60-12), §8.4.20 ----------------------------------------

    def contact_apply_host_response(self, data: bytes) -> DeviceAnswer:
        pending, self._pending = self._pending, None
        if pending is None or pending.stage != "online" or not data:
            return DeviceAnswer(Status.COMMAND_NOT_ALLOWED)
        host_reached = data[0] == 0x01
        answer = tlv.decode(data[1:])
        response_code = answer.get(codes.TAG_ONLINE_RESPONSE_CODE)
        approved = host_reached and response_code == "3030"
        try:
            accepted, _reason, tags = pending.card.second_generate_ac(
                approved=approved, response_code_8a=response_code,
                issuer_authentication_91=answer.get(codes.TAG_ISSUER_AUTHENTICATION),
                unable_to_go_online=not host_reached,
            )
        except CardStateError:
            return DeviceAnswer(Status.COMMAND_NOT_ALLOWED)
        return _contact(ContactResult.APPROVED if accepted else ContactResult.DECLINED, _plain(tags))

    # -- the rest ------------------------------------------------------------------------

    def main_firmware_version(self) -> DeviceAnswer:
        """09-03: DF62 with the version string, 00-terminated, as in ID
        TECH's example (VP3350 Integration Manual §7.4, p. 16)."""
        version = self.firmware.encode("ascii") + b"\x00"
        return DeviceAnswer(Status.OK, objects=[tlv.TlvObject(codes.TAG_MAIN_FIRMWARE_VERSION, version)])

    def cancel_transaction(self) -> DeviceAnswer:
        self._pending = None
        return DeviceAnswer(Status.OK)

    def display_message(self, text: str) -> DeviceAnswer:
        self.last_message = text
        return DeviceAnswer(Status.OK)

    def reader_status(self) -> DeviceAnswer:
        return DeviceAnswer(Status.OK, objects=_plain({
            codes.TAG_BATTERY_PERCENT: f"{self.battery_percent:02X}",
            codes.TAG_MODEL: self.model.encode("ascii").hex().upper(),
        }))


def _set(register: bytearray, bit: tuple[int, int]) -> None:
    index, mask = bit
    register[index] |= mask
