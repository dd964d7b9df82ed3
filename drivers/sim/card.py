"""A simulated EMV chip card: what the card itself knows and computes.

The card holds the test card's data (``test_material.TEST_CARDS``),
an application transaction counter (ATC) and the keys the sandbox issuer
derives too, so its cryptograms are real and checkable (pyemv):

- first GENERATE AC: an ARQC (9F27=80, go online) or an AAC (9F27=00,
  declined offline) over the terminal's data (``ARQC_TAGS``);
- second GENERATE AC: the card checks the issuer's ARPC in tag 91 and
  answers a TC (9F27=40) when it is genuine and says approved, else an AAC
  with a reason.

How the card is reached (in memory, over a NEO 2 frame, over Bluetooth) is
none of its business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mpos_cli.drivers.sim import test_material
from mpos_cli.drivers.sim.test_material import TestCard

# Cryptogram information data (9F27), EMV Book 3 §6.5.5.
CID_AAC = "00"
CID_TC = "40"
CID_ARQC = "80"

# Application interchange profile (82): DDA, cardholder verification,
# terminal risk management and issuer authentication supported (plus CDA
# for Mastercard), as the schemes' test cards advertise.
AIP = {"visa-cvn18": "3C00", "mc-cvn16": "3D00"}

# Where the card verification results (CVR) byte that says which cryptogram
# the card returned sits inside 9F10: Visa CVN18 after length, DKI, CVN and
# the CVR length; Mastercard CVN16 after DKI and CVN. Bits 8-7: the second
# GENERATE AC's answer (00 AAC, 01 TC, 10 not requested); bits 6-5: the
# first's (00 AAC, 01 TC, 10 ARQC). A TC thus differs from its ARQC even
# over the same terminal data.
CVR_AC_BYTE = {"visa-cvn18": 4, "mc-cvn16": 2}
CVR_SECOND_NOT_REQUESTED, CVR_SECOND_TC, CVR_SECOND_AAC = 0x80, 0x40, 0x00
CVR_FIRST_ARQC, CVR_FIRST_AAC = 0x20, 0x00

# TVR byte 5 bit 7: issuer authentication failed (EMV Book 3 Annex C5).
TVR_ISSUER_AUTH_FAILED = 0x40
# TSI byte 1 bit 5: issuer authentication was performed (Annex C6).
TSI_ISSUER_AUTH_PERFORMED = 0x10


class CardStateError(Exception):
    """A command the card cannot take in its current state (EMV: SW 6985)."""


@dataclass
class SimulatedCard:
    card: TestCard
    atc: int = 0
    # The card's own risk management for an online approval that carries no
    # issuer authentication data (no 91): EMV Book 3 §10.9 leaves it to the
    # card. False: the card accepts it (what most cards do); True: it asks
    # for a TC only after a genuine ARPC and answers an AAC otherwise.
    requires_issuer_authentication: bool = False
    # The first GENERATE AC's answer, kept for the second one.
    _arqc: str | None = field(default=None, repr=False)
    _terminal: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def for_scheme(cls, scheme: str, atc: int = 0, **options) -> "SimulatedCard":
        return cls(test_material.TEST_CARDS[scheme], atc, **options)

    # -- what READ RECORD / SELECT give the reader -------------------------

    def application_data(self) -> dict[str, str]:
        """SELECT and READ RECORD: the card's public data (no PAN, no track)."""
        c = self.card
        return {
            "4F": c.aid,
            "84": c.aid,
            "50": c.label.encode("ascii").hex().upper(),
            "5F34": c.psn,
            "5F24": c.expiry + "31",  # YYMMDD; test cards expire at month end
            "82": AIP[c.cvn],
            "9F10": self._issuer_application_data(CVR_SECOND_NOT_REQUESTED | CVR_FIRST_ARQC),
        }

    def _issuer_application_data(self, cvr_ac_bits: int) -> str:
        iad = bytearray.fromhex(test_material.issuer_application_data(self.card.cvn))
        index = CVR_AC_BYTE[self.card.cvn]
        iad[index] = (iad[index] & 0x0F) | cvr_ac_bits
        return iad.hex().upper()

    def pan_bcd(self) -> str:
        """5A: the PAN in BCD, padded with F to whole bytes."""
        pan = self.card.pan
        return pan + "F" * (len(pan) % 2)

    def track2_equivalent(self, discretionary: str = "0000000000") -> str:
        """57 (EMV Book 3 Annex A): PAN, separator D, YYMM, service code 201
        (chip card), discretionary data, padded with F."""
        value = f"{self.card.pan}D{self.card.expiry}201{discretionary}"
        return value + "F" * (len(value) % 2)

    def track2_ascii(self) -> str:
        """The magnetic stripe's track 2 as a swipe reads it (ISO/IEC 7813, no sentinels)."""
        return f"{self.card.pan}={self.card.expiry}201{'0' * 10}"

    # -- GENERATE AC -----------------------------------------------------------

    def first_generate_ac(self, terminal: dict[str, str], *, decline_offline: bool = False) -> dict[str, str]:
        """ARQC (go online) or AAC (declined offline) over the terminal's data."""
        self.atc = (self.atc + 1) & 0xFFFF
        tags = {**terminal, **self.application_data(), "9F36": f"{self.atc:04X}"}
        if decline_offline:
            tags["9F10"] = self._issuer_application_data(CVR_SECOND_NOT_REQUESTED | CVR_FIRST_AAC)
        cryptogram = test_material.application_cryptogram(self.card.pan, self.card.psn, self.card.cvn, tags)
        cid = CID_AAC if decline_offline else CID_ARQC
        self._arqc = None if decline_offline else cryptogram
        self._terminal = tags
        return {"9F26": cryptogram, "9F27": cid, "9F36": tags["9F36"], "9F10": tags["9F10"]}

    def second_generate_ac(
        self, *, approved: bool, response_code_8a: str | None, issuer_authentication_91: str | None,
        unable_to_go_online: bool = False,
    ) -> tuple[bool, str | None, dict[str, str]]:
        """The card's final word: (accepted, reason, tags with 9F26 9F27 95 9B)."""
        if self._arqc is None:
            raise CardStateError("second GENERATE AC without an ARQC outstanding")
        arqc, tags = self._arqc, dict(self._terminal)
        self._arqc = None
        tvr = bytearray.fromhex(tags.get("95", "0000000000"))
        tsi = bytearray.fromhex(tags.get("9B", "0000"))
        reason: str | None = None
        if unable_to_go_online:
            reason = "unable_to_go_online"
        elif not issuer_authentication_91:
            # No issuer authentication data: the terminal skips EXTERNAL
            # AUTHENTICATE (TSI bit stays off) and the card decides by its
            # own risk management (EMV Book 3 §10.9).
            if not approved or response_code_8a not in (None, "3030"):
                reason = "issuer_declined"
            elif self.requires_issuer_authentication:
                reason = "issuer_authentication_missing"
        else:
            tsi[0] |= TSI_ISSUER_AUTH_PERFORMED
            try:
                genuine, issuer_approved = test_material.verify_issuer_authentication(
                    self.card.pan, self.card.psn, self.card.cvn, arqc, tags["9F36"], issuer_authentication_91
                )
            except (ValueError, IndexError):
                genuine, issuer_approved = False, False
            if not genuine:
                tvr[4] |= TVR_ISSUER_AUTH_FAILED
                reason = "arpc_mismatch"
            elif not (issuer_approved and approved and response_code_8a in (None, "3030")):
                reason = "issuer_declined"
        accepted = reason is None
        tags["95"], tags["9B"] = tvr.hex().upper(), tsi.hex().upper()
        tags["9F10"] = self._issuer_application_data((CVR_SECOND_TC if accepted else CVR_SECOND_AAC) | CVR_FIRST_ARQC)
        cryptogram = test_material.application_cryptogram(self.card.pan, self.card.psn, self.card.cvn, tags)
        return accepted, reason, {
            "9F26": cryptogram,
            "9F27": CID_TC if accepted else CID_AAC,
            "9F36": tags["9F36"],
            "95": tags["95"],
            "9B": tags["9B"],
            "9F10": tags["9F10"],
        }
