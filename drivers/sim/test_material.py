"""The sandbox's card world: test issuer keys, test cards, and the cryptography
shared by the simulated card (drivers/sim) and the sandbox issuer
(mpos_cli/gateway/sandbox): it lives in the reader layer so that both may
import it without drivers/ importing the core.

Everything here is *test* material, published on purpose so anyone can check
a cryptogram by hand; none of it is a secret and none of it is valid at a
real acquirer. Cryptograms are real (pyemv): the card computes an ARQC with
keys derived from the issuer master keys below, the sandbox issuer derives
the same keys from the PAN and verifies it, then answers with an ARPC the
card checks.

Card data leaves the simulated reader encrypted under TDES DUKPT (ANSI
X9.24-1), exactly as an ID TECH reader sends it: keys derived from the
documented test base derivation key ``SANDBOX_BDK`` (the BDK of X9.24-1's
own worked example, and ID TECH's demo key), which only the simulated
reader's injected initial keys and the sandbox acquirer know of. So mpos
never holds a PAN in clear and an offline payment can be stored at rest
(SPEC §8).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

# pyemv reaches 3DES through cryptography's old import path; the warning is
# about where the class lives, not about our use of it.
warnings.filterwarnings("ignore", message=".*TripleDES.*")

# Issuer master keys (double-length 3DES, odd parity not required by pyemv).
# These are the well-known EMV test pattern keys.
ISSUER_MK_AC = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ISSUER_MK_SMI = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")
ISSUER_MK_SMC = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")

# The sandbox's base derivation key (BDK) and the initial key serial numbers
# of the simulated reader's two DUKPT keys (data, PIN). A test BDK: public,
# protects nothing; a real acquirer's BDK lives in its HSM.
SANDBOX_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
SANDBOX_DATA_IKSN = bytes.fromhex("FFFF9876543210E00000")
SANDBOX_PIN_IKSN = bytes.fromhex("FFFF9876543211E00000")
# AES DUKPT (X9.24-3): the test BDK of its Annex B, for readers set to AES.
SANDBOX_AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")

# The online PIN the simulated customer types.
SANDBOX_PIN = "1234"


@dataclass(frozen=True)
class TestCard:
    scheme: str
    pan: str
    psn: str  # PAN sequence number, 5F34
    expiry: str  # YYMM
    aid: str
    label: str
    cvn: str  # cryptogram version: "visa-cvn18" | "mc-cvn16"

    @property
    def masked_pan(self) -> str:
        return mask_pan(self.pan)


TEST_CARDS: dict[str, TestCard] = {
    "visa": TestCard("visa", "4761739001010010", "01", "3012", "A0000000031010", "VISA CREDIT", "visa-cvn18"),
    "mastercard": TestCard(
        "mastercard", "5413330089010434", "00", "3012", "A0000000041010", "MASTERCARD", "mc-cvn16"
    ),
}

# Which card each simulated scenario presents.
SCENARIO_CARD = {
    "contactless": "visa",
    "chip": "mastercard",
    "swipe": "visa",
    "removed": "visa",
    "no-card": "visa",
    "offline-decline": "mastercard",
    "issuer-auth-required": "mastercard",
}

# Tags fed to the ARQC, in pyemv's argument order.
ARQC_TAGS = ("9F02", "9F03", "9F1A", "95", "5F2A", "9A", "9C", "9F37", "82", "9F36")


def mask_pan(pan: str) -> str:
    """First 6 and last 4 (PCI DSS 3.4): the most we ever show or keep."""
    return f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}"


def _cvn(card_pan: str, card_psn: str, cvn: str):
    from pyemv import cvn as cvns

    if cvn == "visa-cvn18":
        return cvns.VisaCVN18(ISSUER_MK_AC, ISSUER_MK_SMI, ISSUER_MK_SMC, card_pan, card_psn)
    if cvn == "mc-cvn16":
        return cvns.MasterCardCVN16(ISSUER_MK_AC, ISSUER_MK_SMI, ISSUER_MK_SMC, card_pan, card_psn)
    raise ValueError(f"unknown cryptogram version {cvn!r}")


def issuer_application_data(cvn: str) -> str:
    """9F10 as the card reports it (format per cryptogram version)."""
    if cvn == "visa-cvn18":
        return "06011203A00000"  # length, DKI 01, CVN 0x12, CVR
    return "0110A00003220000000000000000000000FF"  # MC: DKI, CVN 0x10, CVR (6 bytes) ...


def application_cryptogram(pan: str, psn: str, cvn: str, tags: dict[str, str]) -> str:
    """ARQC / TC / AAC over the terminal and card data in ``tags`` (hex)."""
    engine = _cvn(pan, psn, cvn)
    args = [bytes.fromhex(tags[t]) for t in ARQC_TAGS]
    iad = bytes.fromhex(tags.get("9F10") or issuer_application_data(cvn))
    if cvn == "visa-cvn18":
        return engine.generate_ac(*args, iad).hex().upper()
    return engine.generate_ac(*args, iad[2:8]).hex().upper()


def issuer_authentication_data(pan: str, psn: str, cvn: str, arqc: str, atc: str, response_code: str) -> str:
    """Tag 91: the ARPC and what the card needs to check it.

    Visa CVN18 uses ARPC method 2 (ARPC over ARQC and a Card Status Update:
    4-byte ARPC + CSU); Mastercard CVN16 method 1 (ARPC over ARQC xor ARC:
    8-byte ARPC + 2-byte ARC).
    """
    engine = _cvn(pan, psn, cvn)
    approved = response_code == "00"
    if cvn == "visa-cvn18":
        csu = bytes.fromhex("00820000" if approved else "00000000")  # approval bit set when approved
        arpc = engine.generate_arpc(bytes.fromhex(arqc), bytes.fromhex(atc), csu)
        return (arpc + csu).hex().upper()
    arc = response_code.encode("ascii")
    arpc = engine.generate_arpc(bytes.fromhex(arqc), arc)
    return (arpc + arc).hex().upper()


def verify_issuer_authentication(
    pan: str, psn: str, cvn: str, arqc: str, atc: str, tag_91: str
) -> tuple[bool, bool]:
    """Card side: is the ARPC genuine, and does it say approved? -> (genuine, approved)."""
    engine = _cvn(pan, psn, cvn)
    data = bytes.fromhex(tag_91)
    if cvn == "visa-cvn18":
        arpc, csu = data[:4], data[4:8]
        genuine = engine.generate_arpc(bytes.fromhex(arqc), bytes.fromhex(atc), csu) == arpc
        return genuine, csu[1] & 0x80 != 0
    arpc, arc = data[:8], data[8:10]
    genuine = engine.generate_arpc(bytes.fromhex(arqc), arc) == arpc
    return genuine, arc == b"00"
