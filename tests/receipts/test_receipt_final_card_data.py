"""Receipts and the journal carry the card's final TVR, TSI and cryptogram.

On an online chip sale the card answers GENERATE AC twice (EMV Book 3
§6.5.5); the terminal's issuer authentication between the two sets TSI
byte 1 bit 5 (Annex C6), so the final TSI differs from the first. The
receipt must print the final TVR/TSI next to the final cryptogram (the TC).
A contactless card that answers once keeps its first values.

What the card said is recorded at the reader interface (``complete``), so
the expected values come from the card, not from the code under test.
"""

from __future__ import annotations

import os
import re

import pytest

from mpos_cli.drivers.base import Completion
from mpos_cli.drivers.sim.reader import SimulatedReader


@pytest.fixture
def card_answers(monkeypatch):
    """Every GENERATE AC answer the simulated card gave, first and second, in order."""
    answers: dict[str, dict[str, str]] = {}
    start, complete = SimulatedReader.start_transaction, SimulatedReader.complete

    async def recording_start(self, request):
        result = await start(self, request)
        answers["first"] = dict(result.emv)
        return result

    async def recording_complete(self, response):
        completion = await complete(self, response)
        answers["second"] = dict(completion.emv)
        return completion

    monkeypatch.setattr(SimulatedReader, "start_transaction", recording_start)
    monkeypatch.setattr(SimulatedReader, "complete", recording_complete)
    return answers


@pytest.fixture
def one_generate_ac(monkeypatch):
    """A reader whose card answers GENERATE AC once (a contactless kernel that
    completes without the card): the host's approval is final, no new TVR/TSI."""

    async def complete_without_the_card(self, response):
        await self.cancel()
        return Completion(accepted=response.approved, emv={})

    monkeypatch.setattr(SimulatedReader, "complete", complete_without_the_card)


def _charge(mpos, *args: str) -> str:
    result = mpos("charge", *args, "--json")
    assert result.exit_code == 0, result
    return result.json()["id"]


def _receipt_rows(mpos, tx_id: str) -> dict[str, str]:
    result = mpos("receipt", tx_id, "--format", "text", "--copy", "merchant")
    assert result.exit_code == 0, result
    rows = {}
    for line in result.stdout.splitlines():
        match = re.fullmatch(r"\|?\s*(TVR|TSI|TC|AAC|ARQC|Cryptogram)\s+([0-9A-F]+)\s*\|?", line.strip())
        if match:
            rows[match[1]] = match[2]
    return rows


def _journaled(tx_id: str):
    from mpos_cli.env import Environment
    from mpos_cli.pos import PointOfSale

    pos = PointOfSale(Environment(environ=dict(os.environ)))
    try:
        return pos.journal.get(tx_id)
    finally:
        pos.close()


def test_chip_receipt_shows_the_second_generate_ac(mpos, card_answers):
    tx_id = _charge(mpos, "20.00", "--card", "chip")
    first, second = card_answers["first"], card_answers["second"]
    assert second["9F27"] == "40"  # the card's final word is a TC
    # Issuer authentication happened between the two answers: the TSI moved on (bit 5 of byte 1).
    assert int(second["9B"][:2], 16) == int(first["9B"][:2], 16) | 0x10
    assert second["9B"] != first["9B"]

    tx = _journaled(tx_id)
    assert tx.emv_out["9B"] == tx.card.tsi == second["9B"]
    assert tx.emv_out["95"] == tx.card.tvr == second["95"]
    assert (tx.emv_out["9F26"], tx.emv_out["9F27"]) == (second["9F26"], "40")
    assert tx.emv_out["9F36"] == tx.card.atc == second["9F36"]

    rows = _receipt_rows(mpos, tx_id)
    assert rows["TSI"] == tx.emv_out["9B"] == second["9B"]
    assert rows["TVR"] == second["95"]
    assert rows["TC"] == second["9F26"]


def test_contactless_receipt_tsi_is_the_journals_final_9b(mpos, card_answers):
    """A contactless card has left the field when the issuer answers: the
    online answer decides and the card answers GENERATE AC once (issue 11,
    completion as the kernels do it), so its only answer is its final one."""
    tx_id = _charge(mpos, "12.50")
    tx = _journaled(tx_id)
    assert tx.card.entry_mode == "contactless"
    assert card_answers["second"] == {}  # nothing more came from the card
    rows = _receipt_rows(mpos, tx_id)
    assert rows["TSI"] == tx.emv_out["9B"] == tx.card.tsi == card_answers["first"]["9B"]
    assert rows["ARQC"] == card_answers["first"]["9F26"]


def test_a_card_that_answers_once_keeps_its_first_values(mpos, card_answers, one_generate_ac):
    tx_id = _charge(mpos, "12.50")
    first = card_answers["first"]
    assert "second" not in card_answers
    tx = _journaled(tx_id)
    assert tx.status == "approved" and tx.card.entry_mode == "contactless"
    assert tx.emv_out["9B"] == tx.card.tsi == first["9B"]
    rows = _receipt_rows(mpos, tx_id)
    assert rows["TSI"] == first["9B"] and rows["TVR"] == first["95"]
    assert rows["ARQC"] == first["9F26"]  # the only cryptogram the card gave, labelled as what it is


def test_an_aac_after_approval_is_journaled_with_the_cards_final_data(make_tx, cards, merchant):
    """The card refusing the issuer (EMV Book 3 Annex C5: TVR byte 5 bit 7, issuer
    authentication failed) is shown with that TVR and the AAC, not the ARQC's."""
    from mpos_cli.records import with_final_card_data
    from mpos_cli.receipts import build_receipt

    sent = make_tx(
        card=cards.mastercard_chip_pin, status="pending",
        emv_out={"95": "0000008000", "9B": "E800", "9F26": "1111111111111111", "9F27": "80", "9F36": "0042",
                 "4F": "A0000000041010"},
    )
    final = with_final_card_data(
        sent, {"9F26": "2222222222222222", "9F27": "00", "95": "0000008040", "9B": "F800", "9F10": "0110A000"}
    )
    assert final.emv_out == {**sent.emv_out, "9F26": "2222222222222222", "9F27": "00", "95": "0000008040", "9B": "F800"}
    assert (final.card.tvr, final.card.tsi, final.card.atc) == ("0000008040", "F800", "0042")
    assert sent.card.tsi == "E800" and sent.emv_out["9B"] == "E800"  # the first record is not altered
    rows = {row.label: row.value for row in build_receipt(final, **merchant).authorisation_rows}
    assert (rows["TVR"], rows["TSI"], rows["AAC"]) == ("0000008040", "F800", "2222222222222222")
    assert with_final_card_data(sent, {}) is sent


def test_old_journal_records_print_the_final_values_they_kept(make_tx, cards, merchant):
    """Records written before the fix kept the first TSI on the card but the final 9B in emv_out."""
    from mpos_cli.receipts import build_receipt

    old = make_tx(card=cards.visa_contactless.__class__(**{**cards.visa_contactless.__dict__, "tsi": "2800"}),
                  emv_out={"95": "0000008000", "9B": "3800", "9F26": "241F503CEC13CF8E", "9F27": "40"})
    rows = {row.label: row.value for row in build_receipt(old, **merchant).authorisation_rows}
    assert rows["TSI"] == "3800"
