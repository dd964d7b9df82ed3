"""The sandbox acquirer through the real client over real HTTP on loopback."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from mpos_cli.drivers.sim import test_material
from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected
from mpos_cli.gateway.base import RefundRequest, SeedSale
from tests.helpers.gateway import card_request, new_reference
from tests.helpers.sandbox import Sandbox


def _arpc_check(request, result, card: str = "mastercard") -> tuple[bool, bool]:
    test_card = test_material.TEST_CARDS[card]
    return test_material.verify_issuer_authentication(
        test_card.pan, test_card.psn, test_card.cvn, request.emv["9F26"], request.emv["9F36"], result.emv["91"]
    )


# -- authorisation outcomes -----------------------------------------------------


@pytest.mark.parametrize("card, entry_mode", [("mastercard", "chip"), ("visa", "contactless")])
def test_a_genuine_card_is_approved_with_an_auth_code_and_a_genuine_arpc(gateway, card, entry_mode):
    request = card_request(1250, card=card, entry_mode=entry_mode)
    result = gateway.authorise(request)
    assert result.approved and result.status == "approved"
    assert result.reference == request.reference
    assert len(result.auth_code) == 6 and result.auth_code.isalnum()
    assert result.acquirer_id
    assert result.emv["8A"] == "3030"  # "00" in ASCII
    assert _arpc_check(request, result, card) == (True, True)


@pytest.mark.parametrize(
    "amount_minor, tip_minor, code",
    [(1205, 0, "05"), (1251, 0, "51"), (1254, 0, "54"), (1255, 0, "55"), (1291, 0, "91"), (1200, 51, "51")],
)
def test_the_cents_of_amount_plus_tip_pick_the_decline(gateway, amount_minor, tip_minor, code):
    request = card_request(amount_minor, tip_minor=tip_minor)
    result = gateway.authorise(request)
    assert (result.response_code, result.status, result.auth_code) == (code, "declined", None)
    assert result.emv["8A"] == code.encode().hex().upper()
    # The card is told, authentically, that the issuer declined.
    assert _arpc_check(request, result) == (True, False)


@pytest.mark.parametrize("currency, amount_minor", [("JPY", 1205), ("KWD", 12_505), ("JPY", 1251)])
def test_currencies_without_two_decimals_use_the_last_two_digits_of_the_minor_units(gateway, currency, amount_minor):
    result = gateway.authorise(card_request(amount_minor, currency=currency))
    assert result.response_code == f"{amount_minor % 100:02d}"


def test_other_cents_approve_even_when_close_to_a_decline_code(gateway):
    for amount in (1204, 1206, 1250, 1299, 1200):
        assert gateway.authorise(card_request(amount)).response_code == "00"


def test_a_tampered_cryptogram_is_declined_without_an_arpc(gateway):
    request = card_request(1250)
    forged = "00" + request.emv["9F26"][2:] if not request.emv["9F26"].startswith("00") else "FF" + request.emv["9F26"][2:]
    result = gateway.authorise(replace(request, emv={**request.emv, "9F26": forged}))
    assert (result.response_code, result.status) == ("88", "declined")
    assert "91" not in result.emv


def test_changing_a_signed_tag_after_the_cryptogram_is_declined(gateway):
    # The unpredictable number is an ARQC input: a replayed cryptogram over a new one fails.
    result = gateway.authorise(card_request(1250, emv_changes={"9F37": "DEADBEEF"}))
    assert result.response_code == "88"


def test_an_amount_other_than_the_one_the_card_signed_is_declined(gateway):
    signed_for_12_50 = card_request(1250)
    result = gateway.authorise(replace(signed_for_12_50, amount_minor=125_000))
    assert result.response_code == "13"


def test_a_wrong_pin_is_declined_55(gateway):
    assert gateway.authorise(card_request(1250, pin="9999")).response_code == "55"


def test_online_pin_without_a_pin_block_is_declined_55(gateway):
    request = replace(card_request(1250, pin=None), cvm="online_pin")
    assert gateway.authorise(request).response_code == "55"


def test_a_swipe_carries_no_cryptogram_and_is_approved_without_emv_answer(gateway):
    result = gateway.authorise(card_request(1250, card="visa", entry_mode="swipe", pin=None))
    assert result.approved and result.emv == {}


def test_card_data_not_sealed_for_this_acquirer_is_a_format_error(gateway):
    request = replace(card_request(1250), encrypted_card_data="bm90IHNlYWxlZA==")
    result = gateway.authorise(request)
    assert (result.response_code, result.status) == ("30", "declined")


def test_an_expired_card_is_declined_54(gateway):
    assert gateway.authorise(card_request(1250, card_data={"expiry": "2001"})).response_code == "54"


def test_a_card_the_issuer_does_not_know_is_declined_14(gateway):
    assert gateway.authorise(card_request(1250, card_data={"pan": "4000000000000002"})).response_code == "14"


def test_card_data_encrypted_under_another_bdk_is_a_format_error(gateway):
    from mpos_cli.drivers.sim import encryption

    other = encryption.DukptKey.injected(bytes.fromhex("11" * 16), bytes.fromhex("FFFF9876543210E00000"))
    test_card = test_material.TEST_CARDS["mastercard"]
    request = replace(card_request(1250), encrypted_card_data=encryption.forwarded_card_data(
        test_card.pan, test_card.expiry, key=other))
    result = gateway.authorise(request)
    assert (result.response_code, result.status) == ("30", "declined")


def test_a_deferred_authorisation_keeps_its_capture_time_and_gets_no_arpc(gateway):
    captured = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    approved = gateway.authorise(card_request(1250, deferred=True, captured_at=captured))
    declined = gateway.authorise(card_request(1251, deferred=True, captured_at=captured))
    assert approved.approved and "91" not in approved.emv
    assert declined.response_code == "51"
    row = next(row for row in gateway.ledger() if row["reference"] == approved.reference)
    assert row["deferred"] is True
    assert row["business_date"] == "2026-03-01"  # the capture's own local date
    assert row["captured_at"] == captured.isoformat()


# -- idempotency ------------------------------------------------------------------------


def test_the_same_request_twice_replays_the_saved_answer_and_charges_once(gateway):
    request = card_request(1250)
    first = gateway.authorise(request)
    second = gateway.authorise(request)
    assert second == first
    assert [row["reference"] for row in gateway.ledger()].count(request.reference) == 1


def test_the_same_reference_with_another_body_is_refused(gateway):
    request = card_request(1250)
    gateway.authorise(request)
    with pytest.raises(GatewayRejected) as caught:
        gateway.authorise(replace(request, tip_minor=100))
    assert "409" in caught.value.message and "different request body" in caught.value.message
    assert gateway.lookup(request.reference).amount_minor == 1250


def test_a_refund_cannot_reuse_a_sale_reference(gateway):
    sale = gateway.authorise(card_request(1250))
    with pytest.raises(GatewayRejected):
        gateway.refund(RefundRequest(sale.reference, sale.reference, 100, "EUR"))


def test_concurrent_duplicates_record_one_authorisation(sandbox):
    request = card_request(1250)
    results, errors = [], []

    def send():
        try:
            results.append(sandbox.gateway().authorise(request))
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({(r.acquirer_id, r.auth_code) for r in results}) == 1
    assert [row["reference"] for row in sandbox.gateway().ledger()].count(request.reference) == 1


# -- lookup and reversal -------------------------------------------------------------------------


def test_lookup_returns_the_acquirers_record_or_none(gateway):
    assert gateway.lookup("never-sent") is None
    approved = gateway.authorise(card_request(1250, tip_minor=100))
    declined = gateway.authorise(card_request(1251))
    found = gateway.lookup(approved.reference)
    assert (found.status, found.auth_code, found.acquirer_id) == ("approved", approved.auth_code, approved.acquirer_id)
    assert (found.amount_minor, found.tip_minor, found.currency, found.kind) == (1250, 100, "EUR", "sale")
    assert gateway.lookup(declined.reference).status == "declined"


def test_lookup_handles_references_that_need_escaping(gateway):
    request = card_request(1250, reference="sale/2026 #1?x=y")
    gateway.authorise(request)
    assert gateway.lookup(request.reference).reference == "sale/2026 #1?x=y"


def test_reversal_reverses_an_approval_and_is_idempotent(gateway):
    sale = gateway.authorise(card_request(1250))
    first = gateway.reverse(sale.reference, reason="card removed")
    second = gateway.reverse(sale.reference, reason="retry with another reason")
    assert (first.status, first.response_code) == ("reversed", "00")
    assert (second.status, second.response_code) == ("reversed", "00")
    assert gateway.lookup(sale.reference).status == "reversed"
    row = next(row for row in gateway.ledger() if row["reference"] == sale.reference)
    assert row["reversal_reason"] == "card removed"


def test_reversal_of_an_unknown_reference_is_harmless_and_blocks_a_late_original(gateway):
    request = card_request(1250)
    result = gateway.reverse(request.reference, reason="timed out before any answer")
    assert (result.status, result.response_code) == ("reversed", "00")
    assert gateway.lookup(request.reference) is None
    # The original overtaken by its reversal (ISO 8583 0420 before 0100) is never honoured.
    late = gateway.authorise(request)
    assert not late.approved and late.status == "reversed"


def test_reversal_of_a_declined_authorisation_changes_nothing(gateway):
    declined = gateway.authorise(card_request(1205))
    assert gateway.reverse(declined.reference, reason="x").response_code == "00"
    assert gateway.lookup(declined.reference).status == "declined"


# -- refunds and voids -------------------------------------------------------------------


def test_partial_then_full_refund_and_never_more_than_remains(gateway):
    sale = gateway.authorise(card_request(1000, tip_minor=250))  # total 12.50
    partial = gateway.refund(RefundRequest(new_reference("R"), sale.reference, 500, "EUR"))
    assert partial.approved and partial.kind == "refund" and len(partial.auth_code) == 6
    assert gateway.lookup(sale.reference).status == "partially_refunded"

    too_much = gateway.refund(RefundRequest(new_reference("R"), sale.reference, 751, "EUR"))
    assert (too_much.response_code, too_much.status) == ("13", "declined")
    assert gateway.lookup(sale.reference).refunded_minor == 500

    rest = gateway.refund(RefundRequest(new_reference("R"), sale.reference, 750, "EUR"))
    assert rest.approved
    after = gateway.lookup(sale.reference)
    assert (after.status, after.refunded_minor) == ("refunded", 1250)
    assert gateway.refund(RefundRequest(new_reference("R"), sale.reference, 1, "EUR")).response_code == "13"


def test_a_refund_replayed_refunds_once(gateway):
    sale = gateway.authorise(card_request(1250))
    refund = RefundRequest(new_reference("R"), sale.reference, 400, "EUR")
    assert gateway.refund(refund) == gateway.refund(refund)
    assert gateway.lookup(sale.reference).refunded_minor == 400
    assert gateway.lookup(refund.reference).kind == "refund"


@pytest.mark.parametrize("cents, code", [(1205, "12"), (None, "25")])
def test_a_refund_needs_an_approved_sale(gateway, cents, code):
    original = gateway.authorise(card_request(cents)).reference if cents else "no-such-sale"
    assert gateway.refund(RefundRequest(new_reference("R"), original, 100, "EUR")).response_code == code


def test_a_refund_in_another_currency_is_declined(gateway):
    sale = gateway.authorise(card_request(1250))
    assert gateway.refund(RefundRequest(new_reference("R"), sale.reference, 100, "GBP")).response_code == "12"


def test_void_of_an_unsettled_sale_reverses_it(gateway):
    sale = gateway.authorise(card_request(1250))
    void = gateway.void(new_reference("V"), sale.reference)
    assert void.approved and void.kind == "void"
    assert gateway.lookup(sale.reference).status == "reversed"
    assert gateway.void(new_reference("V"), sale.reference).response_code == "12"


def test_void_is_refused_after_settlement_or_a_refund(gateway):
    settled = gateway.authorise(card_request(1250))
    gateway.close_batch("B-void", "2999-12-31")
    refunded = gateway.authorise(card_request(1250))
    gateway.refund(RefundRequest(new_reference("R"), refunded.reference, 100, "EUR"))
    for sale in (settled, refunded):
        result = gateway.void(new_reference("V"), sale.reference)
        assert (result.response_code, result.status) == ("12", "declined")


def test_a_refund_can_be_reversed_and_restores_what_is_left(gateway):
    sale = gateway.authorise(card_request(1250))
    refund = gateway.refund(RefundRequest(new_reference("R"), sale.reference, 1250, "EUR"))
    gateway.reverse(refund.reference, reason="sent twice by mistake")
    after = gateway.lookup(sale.reference)
    assert (after.status, after.refunded_minor) == ("approved", 0)


# -- settlement ----------------------------------------------------------------------------


def test_close_batch_totals_per_currency_settles_and_replays(gateway):
    day = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)
    a = gateway.authorise(card_request(1000, tip_minor=200, captured_at=day))
    b = gateway.authorise(card_request(2000, captured_at=day))
    gbp = gateway.authorise(card_request(700, currency="GBP", captured_at=day))
    gateway.authorise(card_request(1205, captured_at=day))  # declined: not in the batch
    reversed_sale = gateway.authorise(card_request(999, captured_at=day))
    gateway.reverse(reversed_sale.reference, reason="x")
    refund = gateway.refund(
        RefundRequest(new_reference("R"), b.reference, 300, "EUR", captured_at=day.isoformat())
    )
    tomorrow = gateway.authorise(card_request(4000, captured_at=day + timedelta(days=1)))

    totals = gateway.close_batch("B-2026-05-04", "2026-05-04")
    assert totals.batch_id == "B-2026-05-04"
    assert totals.totals == {
        "EUR": {"sales_count": 2, "sales_minor": 3200, "refunds_count": 1, "refunds_minor": 300, "net_minor": 2900},
        "GBP": {"sales_count": 1, "sales_minor": 700, "refunds_count": 0, "refunds_minor": 0, "net_minor": 700},
    }
    assert sorted(totals.references) == sorted([a.reference, b.reference, gbp.reference, refund.reference])
    assert gateway.lookup(a.reference).status == "settled"
    assert gateway.lookup(a.reference).batch_reference == "B-2026-05-04"
    assert gateway.lookup(tomorrow.reference).status == "approved"

    assert gateway.close_batch("B-2026-05-04", "2026-05-04") == totals
    with pytest.raises(GatewayRejected):
        gateway.close_batch("B-2026-05-04", "2026-05-05")
    next_day = gateway.close_batch("B-2026-05-05", "2026-05-05")
    assert next_day.references == [tomorrow.reference]
    assert gateway.close_batch("B-empty", "2026-05-05").totals == {}


# -- the .98 hold --------------------------------------------------------------------------


def test_a_total_ending_in_98_is_approved_but_answered_too_late(sandbox):
    impatient = sandbox.gateway(timeout=0.5, retries=0)
    request = card_request(1298)
    with pytest.raises(GatewayOutcomeUnknown):
        impatient.authorise(request)
    # Recorded and approved before the hold: the outcome is there to be found.
    found = sandbox.gateway().lookup(request.reference)
    assert (found.status, found.response_code) == ("approved", "00")
    # A retry under the same key is a replay: the saved answer, not another hold.
    replayed = sandbox.gateway(timeout=5.0).authorise(request)
    assert replayed.approved and replayed.auth_code == found.auth_code


def test_the_hold_length_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MPOS_SANDBOX_HOLD_SECONDS", "0")
    server = Sandbox(tmp_path / "data", hold_seconds=None)
    try:
        assert server.gateway(timeout=5.0).authorise(card_request(1298)).approved
    finally:
        server.close()


# -- bearer key, seeding, ledger ---------------------------------------------------------------


def test_a_server_started_with_a_key_refuses_other_keys(sandbox):
    with pytest.raises(GatewayRejected) as wrong:
        sandbox.gateway(key="not-the-key").authorise(card_request(1250))
    assert "401" in wrong.value.message and "MPOS_GATEWAY_KEY" in wrong.value.hint
    with pytest.raises(GatewayRejected):
        sandbox.gateway(key=None).ledger()
    assert sandbox.gateway(key=None).health()["sandbox"] is True  # health is public


def test_seed_writes_approved_sales_in_one_go_and_is_idempotent(gateway):
    sales = [
        SeedSale(f"S-{n}", 1000 + n, n % 3, "EUR", f"2026-04-0{1 + n % 5}T10:00:00+01:00", "476173******0010", "visa")
        for n in range(500)
    ]
    results = gateway.seed(sales)
    assert [r.reference for r in results] == [s.reference for s in sales]
    assert all(r.approved and len(r.auth_code) == 6 for r in results)
    again = gateway.seed(sales)
    assert [r.auth_code for r in again] == [r.auth_code for r in results]
    ledger = {row["reference"]: row for row in gateway.ledger()}
    assert len(ledger) == 500
    assert ledger["S-7"]["status"] == "approved" and ledger["S-7"]["total_minor"] == 1008
    assert ledger["S-7"]["business_date"] == "2026-04-03"
    totals = gateway.close_batch("B-seed", "2026-04-30")
    assert totals.totals["EUR"]["sales_count"] == 500
    assert totals.totals["EUR"]["sales_minor"] == sum(s.amount_minor + s.tip_minor for s in sales)


def test_seed_refuses_anything_that_could_be_a_full_pan(gateway):
    with pytest.raises(GatewayRejected) as caught:
        gateway.seed([SeedSale("S-1", 100, 0, "EUR", "2026-04-01T10:00:00+00:00", "4761739001010010", "visa")])
    assert "masked_pan" in caught.value.message
    assert gateway.ledger() == []


@pytest.mark.slow
def test_seed_takes_a_hundred_thousand_sales(gateway):
    sales = [
        SeedSale(f"S-{n}", 100 + n % 9000, 0, "EUR", "2026-04-01T10:00:00+00:00", "541333******0434", "mastercard")
        for n in range(100_000)
    ]
    assert len(gateway.seed(sales)) == 100_000
    assert gateway.close_batch("B-big", "2026-04-01").totals["EUR"]["sales_count"] == 100_000


def test_the_ledger_lists_every_operation_with_its_state(gateway):
    approved = gateway.authorise(card_request(1250, card="visa", entry_mode="contactless", pin=None))
    declined = gateway.authorise(card_request(1251))
    refund = gateway.refund(RefundRequest(new_reference("R"), approved.reference, 250, "EUR"))
    rows = {row["reference"]: row for row in gateway.ledger()}
    assert rows[approved.reference]["status"] == "partially_refunded"
    assert rows[approved.reference]["masked_pan"] == "476173******0010"
    assert rows[approved.reference]["auth_code"] == approved.auth_code
    assert rows[declined.reference]["status"] == "declined"
    assert rows[declined.reference]["response_code"] == "51"
    assert rows[refund.reference]["type"] == "refund"
    assert rows[refund.reference]["original_reference"] == approved.reference
