"""The sandbox issuer's answer to a card read, for tests that drive a reader
without the HTTP gateway: decrypt the reader's objects under the sandbox
BDK, verify ARQC and PIN, answer 8A (and 91 after a verified ARQC)."""

from __future__ import annotations

from datetime import date

from mpos_cli.drivers.base import HostResponse
from mpos_cli.gateway.sandbox import issuer, p2pe


def decision(result, amount_minor: int):
    return issuer.decide(
        total_minor=amount_minor, entry_mode=result.entry_mode, cvm=result.cvm,
        encrypted_card_data=result.encrypted_card_data, encrypted_pin_block=result.encrypted_pin_block,
        emv=result.emv, deferred=False, captured_on=date.today(),
    )


def host_response(result, amount_minor: int) -> HostResponse:
    answer = decision(result, amount_minor)
    return HostResponse(approved=answer.approved, response_code=answer.response_code, emv=dict(answer.emv))


def pan_of(result) -> str:
    """The PAN as only the acquirer can read it."""
    return p2pe.card_data(result.encrypted_card_data).pan
