"""Transport faults at every point of a payment, through the CLI, against a
real sandbox acquirer behind a fault proxy (tests/helpers/fault_proxy.py).

After every scenario ``mpos recover`` runs, and the journal and the
acquirer's ledger must agree (tests/helpers/agreement.py).

Every test runs against each acquirer (the ``acquirer`` fixture: the sandbox,
the fake Cybersource, the fake Authorize.Net); the proxy names each vendor's
requests by the sandbox route of the same meaning (tests/fakes/running.py),
so ``AUTH`` is ``POST /pts/v2/payments`` at Cybersource and
``createTransactionRequest`` (authCaptureTransaction) at Authorize.Net.
Where the vendors' documented behaviour differs, the test says how.
"""

from __future__ import annotations

import socket

import pytest

from tests.helpers.agreement import disagreements, journal_transactions, open_transactions

from tests.fakes.running import AUTH, LOOKUP, REVERSAL


def _recover_and_agree(mpos, home, acquirer) -> None:
    result = mpos("recover", "--json")
    assert result.exit_code == 0, result
    assert result.json()["still_open"] == []
    assert open_transactions(home) == []
    problems = disagreements(journal_transactions(home), acquirer.ledger())
    assert problems == [], problems


def _only_sale(home):
    sales = [tx for tx in journal_transactions(home) if tx.type == "sale"]
    assert len(sales) == 1
    return sales[0]


# -- before send: the acquirer cannot be reached -------------------------------------


def test_before_send_connection_refused_is_not_charged(mpos, isolated_home, acquirer, monkeypatch):
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name, value in acquirer.env(dead).items():
        monkeypatch.setenv(name, value)
    result = mpos("charge", "12.00", "--offline", "never", "--json")
    assert result.exit_code == 6, result
    assert "unreachable" in result.stderr and "not stored offline" in result.stderr
    tx = _only_sale(isolated_home)
    assert (tx.status, tx.stage) == ("failed", "done")
    assert acquirer.ledger() == []


@pytest.mark.parametrize("action", ["drop_request", "reset_request"])
def test_request_lost_before_the_acquirer_saw_it(mpos, isolated_home, acquirer, faulty, action):
    faulty.fail(AUTH, action, times=None)
    result = mpos("charge", "12.00", "--json")
    assert result.exit_code == 6, result
    tx = _only_sale(isolated_home)
    # Never assumed declined, never retried under a new key: every attempt carried the same key.
    keys = {key for _, _, key, _ in faulty.seen(AUTH)}
    assert keys == {tx.id}
    assert tx.status == "failed" and "reversed" in tx.message
    if acquirer.name != "authorizenet":
        # The reversal is on record (the sandbox's 0420, Cybersource's timeout
        # void), so a late copy of the request can never be honoured.
        # Authorize.Net has no reversal by reference: the lookup found nothing to void.
        assert faulty.seen(REVERSAL)
    faulty.clear()
    _recover_and_agree(mpos, isolated_home, acquirer)
    assert acquirer.entry(tx.id) is None


# -- after the acquirer committed, before the answer ------------------------------------


@pytest.mark.parametrize("action", ["malformed"])
def test_unreadable_answer_after_commit_is_looked_up_and_completed(mpos, isolated_home, acquirer, faulty, action):
    faulty.fail(AUTH, action)
    result = mpos("charge", "23.40", "--json")
    assert result.exit_code == 0, result
    sale = result.json()
    assert sale["status"] == "approved" and sale["auth_code"]
    assert faulty.seen(LOOKUP), "the outcome was learnt by lookup"
    assert acquirer.entry(sale["id"])["status"] == "approved"
    _recover_and_agree(mpos, isolated_home, acquirer)


@pytest.mark.parametrize("action", ["drop_response", "truncate", "reset", "502"])
def test_answer_lost_after_commit_is_retried_and_replayed_under_the_same_key(mpos, isolated_home, acquirer, faulty, action):
    faulty.fail(AUTH, action)
    result = mpos("charge", "31.00", "--json")
    assert result.exit_code == 0, result
    sale = result.json()
    seen = faulty.seen(AUTH)
    if acquirer.resends_authorisation:  # same idempotency key, or Authorize.Net's duplicate window
        assert len(seen) == 2 and {key for _, _, key, _ in seen} == {sale["id"]}
    else:  # Cybersource keeps no idempotency key: never resent, looked up instead
        assert len(seen) == 1 and faulty.seen(LOOKUP)
    ledger = acquirer.ledger()
    assert [e["reference"] for e in ledger] == [sale["id"]]  # charged once
    _recover_and_agree(mpos, isolated_home, acquirer)


def test_slow_acquirer_times_out_then_lookup_finds_the_approval(mpos, isolated_home, acquirer, faulty):
    faulty.fail(AUTH, "slow", delay=4.0)  # longer than MPOS_GATEWAY_TIMEOUT=2
    result = mpos("charge", "8.80", "--json")
    assert result.exit_code == 0, result
    assert result.json()["status"] == "approved"
    assert faulty.seen(LOOKUP)
    _recover_and_agree(mpos, isolated_home, acquirer)


def test_503_before_forwarding_is_retried(mpos, isolated_home, acquirer, faulty):
    faulty.fail(AUTH, "503_before", times=1)
    result = mpos("charge", "4.00", "--json")
    if acquirer.resends_authorisation:
        assert result.exit_code == 0, result
    else:  # Cybersource: a 5xx is an unknown outcome, never resent: looked up, not found, voided
        assert result.exit_code == 6, result
        assert "not completed" in result.stderr and acquirer.ledger() == []
    _recover_and_agree(mpos, isolated_home, acquirer)


def test_outcome_unknown_and_lookup_fails_too_reverses_the_approval(mpos, isolated_home, acquirer, faulty):
    faulty.fail(AUTH, "drop_response", times=None)
    faulty.fail(LOOKUP, "drop_request", times=None)
    result = mpos("charge", "17.00", "--json")
    assert result.exit_code == 6, result
    assert "not completed" in result.stderr and "reversed" in result.stderr
    tx = _only_sale(isolated_home)
    if acquirer.name == "authorizenet":
        # Its reversal is a void found by lookup: with lookups down it waits for recover.
        assert (tx.status, tx.stage) == ("pending", "reversal_due")
    else:
        assert tx.status == "failed"
        assert acquirer.entry(tx.id)["status"] == "reversed"
    faulty.clear()
    _recover_and_agree(mpos, isolated_home, acquirer)
    assert acquirer.entry(tx.id)["status"] == "reversed"


def test_network_dies_after_commit_then_recover_reverses(mpos, isolated_home, acquirer, faulty):
    """The answer, the lookup and the reversal are all lost: the sale stays
    open (never declined), and ``mpos recover`` reverses it later."""
    faulty.fail(AUTH, "drop_response", times=None)
    faulty.fail(LOOKUP, "reset_request", times=None)
    faulty.fail(REVERSAL, "reset_request", times=None)
    result = mpos("charge", "19.00", "--json")
    assert result.exit_code == 6, result
    assert "mpos recover" in result.stderr
    tx = _only_sale(isolated_home)
    assert (tx.status, tx.stage) == ("pending", "reversal_due")
    assert acquirer.entry(tx.id)["status"] == "approved"  # the acquirer holds it until reversed
    problems = disagreements(journal_transactions(isolated_home), acquirer.ledger(), allow_open=True)
    assert problems == [], problems

    # recover while the network is still down: still open, exit 6, nothing decided wrongly.
    still = mpos("recover", "--json")
    assert still.exit_code == 6, still
    assert still.json()["still_open"] == [tx.id]

    faulty.clear()
    faulty.fail(REVERSAL, "503_before", times=1)  # one more failure: retried with backoff
    _recover_and_agree(mpos, isolated_home, acquirer)
    assert acquirer.entry(tx.id)["status"] == "reversed"
    assert _only_sale(isolated_home).status == "failed"


def test_next_sale_resolves_what_was_left_open_first(mpos, isolated_home, acquirer, faulty):
    faulty.fail(AUTH, "drop_response", times=None)
    faulty.fail(LOOKUP, "drop_request", times=None)
    faulty.fail(REVERSAL, "drop_request", times=None)
    assert mpos("charge", "21.00").exit_code == 6
    faulty.clear()
    result = mpos("charge", "5.00", "--json")
    assert result.exit_code == 0, result
    assert "Reversing" in result.stderr
    assert open_transactions(isolated_home) == []
    assert disagreements(journal_transactions(isolated_home), acquirer.ledger()) == []


def test_start_of_command_recovery_does_not_hang_a_sale_when_the_acquirer_is_silent(
    mpos, isolated_home, acquirer, faulty
):
    """A payment left open and an acquirer that accepts connections but never
    answers: the brief pass gives up after its short timeout, and the sale
    goes on instead of waiting on each open payment in turn."""
    faulty.fail(AUTH, "drop_response", times=None)
    faulty.fail(LOOKUP, "drop_request", times=None)
    faulty.fail(REVERSAL, "drop_request", times=None)
    assert mpos("charge", "21.00").exit_code == 6
    assert mpos("charge", "22.00").exit_code == 6  # two payments left open
    first, second = (tx.id for tx in open_transactions(isolated_home))
    faulty.clear()
    faulty.fail("/v1/", "slow", delay=30, times=None)  # everything hangs
    result = mpos("charge", "6.00", "--json", env={"MPOS_GATEWAY_TIMEOUT": "1"})
    # One brief attempt (the first open payment), then the pass stops; the sale
    # itself meets the silent acquirer: an unknown outcome, never a decline.
    assert result.exit_code == 6, result
    assert f"{first}: still unresolved" in result.stderr
    assert second not in result.stderr
    faulty.clear()
    _recover_and_agree(mpos, isolated_home, acquirer)


# -- the second half of EMV: the card's final word ------------------------------------


def test_card_refuses_a_corrupted_arpc_and_the_approval_is_reversed(mpos, isolated_home, acquirer, faulty):
    faulty.fail(AUTH, "corrupt91")
    result = mpos("charge", "42.00", "--card", "chip", "--json")
    assert result.exit_code == 3, result
    tx = result.json()
    assert tx["status"] == "declined"
    assert "declined by the card after the issuer approved" in result.stderr
    assert "arpc_mismatch" in result.stderr and "reversed" in result.stderr
    assert acquirer.entry(tx["id"])["status"] == "reversed"
    _recover_and_agree(mpos, isolated_home, acquirer)


def test_card_refusal_with_the_reversal_lost_is_reversed_by_recover(mpos, isolated_home, acquirer, faulty):
    faulty.fail(AUTH, "corrupt91")
    faulty.fail(REVERSAL, "drop_request", times=None)
    # Chip: a contactless card is gone after its ARQC and never sees the ARPC.
    result = mpos("charge", "43.00", "--card", "chip", "--json")
    assert result.exit_code == 3, result
    assert "still to be reversed" in result.stderr
    tx = _only_sale(isolated_home)
    assert (tx.status, tx.stage) == ("declined", "reversal_due")
    faulty.clear()
    _recover_and_agree(mpos, isolated_home, acquirer)
    assert acquirer.entry(tx.id)["status"] == "reversed"
    assert _only_sale(isolated_home).status == "declined"


# -- refunds and voids ------------------------------------------------------------------


@pytest.mark.parametrize("action", ["drop_response", "reset", "502", "malformed"])
def test_refund_answer_lost_is_resent_under_its_key(mpos, isolated_home, acquirer, faulty, action):
    sale = mpos("charge", "30.00", "--json").json()
    acquirer.settle_pending()  # Authorize.Net refunds settled sales only
    faulty.fail("/v1/refunds", action)
    result = mpos("refund", sale["id"], "--amount", "10", "--json")
    assert result.exit_code == 0, result
    refund = result.json()
    assert {key for _, _, key, _ in faulty.seen("/v1/refunds")} == {refund["id"]}
    assert acquirer.entry(sale["id"])["refunded_minor"] == 1000
    _recover_and_agree(mpos, isolated_home, acquirer)


def test_refund_left_open_is_finished_by_recover(mpos, isolated_home, acquirer, faulty):
    sale = mpos("charge", "30.00", "--json").json()
    acquirer.settle_pending()
    faulty.fail("/v1/refunds", "drop_response", times=None)
    result = mpos("refund", sale["id"], "--json")
    if acquirer.name == "sandbox":
        assert result.exit_code == 6, result
    else:  # the vendors' resend looks the refund up under its reference first, and finds it
        assert result.exit_code == 0, result
    assert acquirer.entry(sale["id"])["status"] == "refunded"  # done at the acquirer, unknown to us
    faulty.clear()
    _recover_and_agree(mpos, isolated_home, acquirer)
    original = mpos("journal", "show", sale["id"], "--json").json()
    assert (original["status"], original["refunded_minor"]) == ("refunded", 3000)


def test_void_left_open_is_finished_by_recover(mpos, isolated_home, acquirer, faulty):
    sale = mpos("charge", "12.00", "--json").json()
    faulty.fail("/v1/voids", "reset", times=None)
    result = mpos("void", sale["id"], "--json")
    if acquirer.name == "cybersource":  # its resend searches under the void's reference first, and finds it
        assert result.exit_code == 0, result
    else:
        assert result.exit_code == 6, result
    faulty.clear()
    _recover_and_agree(mpos, isolated_home, acquirer)
    assert mpos("journal", "show", sale["id"], "--json").json()["status"] == "voided"


# -- the idempotency key ------------------------------------------------------------------


def test_the_key_is_journaled_as_sent_before_the_request_leaves(mpos, isolated_home, acquirer, faulty):
    """At the moment the authorisation reaches the wire, the journal on disk
    (read by another reader, as after a crash) already holds the payment
    with stage ``sent`` under the very reference sent as Idempotency-Key."""
    import json

    from mpos_cli.journal import Journal

    seen = []

    def check(method, path, headers, body):
        route, key = acquirer.classify(method, path, headers, body)
        if route == AUTH:
            journal = Journal(isolated_home / "journal")
            try:
                held = {tx.id: tx for tx in journal.open_transactions()}
            finally:
                journal.close()
            reference = json.loads(body)["reference"] if acquirer.name == "sandbox" else key
            seen.append((key, reference, held.get(key)))

    faulty.on_request = check
    faulty.fail(AUTH, "reset")  # and the retry carries the same key
    result = mpos("charge", "14.00", "--json")
    assert result.exit_code == 0, result
    tx_id = result.json()["id"]
    assert len(seen) == (2 if acquirer.resends_authorisation else 1)
    for key, reference, held in seen:
        assert key == reference == tx_id
        assert held is not None and (held.status, held.stage) == ("pending", "sent")


def test_a_reused_key_with_another_body_is_refused_and_the_same_body_replayed(acquirer):
    if acquirer.name != "sandbox":
        pytest.skip("the mpos gateway API's Idempotency-Key; the vendors' own duplicate rules are tested above")
    from dataclasses import replace

    from mpos_cli.errors import GatewayRejected
    from mpos_cli.gateway.client import HttpGateway
    from tests.helpers.gateway import card_request

    with HttpGateway(acquirer.url, key=acquirer.key, sandbox=True) as gateway:
        request = card_request(1200, reference="20261124-REUSE1")
        first = gateway.authorise(request)
        again = gateway.authorise(request)
        assert first.approved and (again.acquirer_id, again.auth_code) == (first.acquirer_id, first.auth_code)
        with pytest.raises(GatewayRejected, match="409"):
            gateway.authorise(replace(request, amount_minor=1300))
    assert [e["reference"] for e in acquirer.ledger()] == ["20261124-REUSE1"]
