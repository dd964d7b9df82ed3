"""The card's final word, kept in place of its first.

A chip card answers GENERATE AC twice on an online sale (EMV Book 3 §6.5.5,
§10.9): the first answer (an ARQC) goes to the issuer, the second (a TC or
an AAC) is the card's decision on the issuer's answer. Between the two the
terminal performs issuer authentication and updates the TVR (95) and the
TSI (9B) (EMV Book 3 Annex C5, C6: e.g. TSI byte 1 bit 5 "issuer
authentication was performed"), and the card returns a new cryptogram
(9F26) with its cryptogram information data (9F27).

Receipts and the journal must show the final values, never the first
GENERATE AC's TVR/TSI next to the second's TC. A contactless card usually
answers only once (the card has left the field when the issuer answers):
then there is no second answer and the first one stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mpos_cli.transaction import Transaction

# What a second GENERATE AC (and the terminal's processing around it) can
# change among the tags a payment keeps: TVR, TSI, cryptogram, cryptogram
# information data, ATC, and the authorisation response code given to the card.
FINAL_EMV_TAGS = ("95", "9B", "9F26", "9F27", "9F36", "8A")


def with_final_card_data(tx: Transaction, final_emv: Mapping[str, str]) -> Transaction:
    """``tx`` with the card's final TVR, TSI, ATC and cryptogram data.

    ``final_emv`` is what the reader reported after the second GENERATE AC
    (``Completion.emv``); tags it does not carry keep their first values.
    Both places a receipt or an auditor reads agree afterwards: ``emv_out``
    and the card's ``tvr``/``tsi``/``atc``.
    """
    final = {tag.upper(): value for tag, value in final_emv.items() if tag.upper() in FINAL_EMV_TAGS}
    if not final:
        return tx
    emv_out = {**tx.emv_out, **final}
    card = tx.card
    if card is not None:
        card = replace(
            card,
            tvr=final.get("95", card.tvr),
            tsi=final.get("9B", card.tsi),
            atc=final.get("9F36", card.atc),
        )
    return tx.with_changes(card=card, emv_out=emv_out)
