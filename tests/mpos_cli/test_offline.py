"""Offline store-and-forward with the acquirer stopped and started again on
the same port: payments are stored under the policy, capped, forwarded (by
hand and by themselves), and reconciled.

What depends on the acquirer (storing when it is out of reach, forwarding as
a deferred authorisation, a decline learnt when forwarding) runs against
each one (``each_online``): ``mpos sandbox serve`` as its own process, and
the fakes of Cybersource and Authorize.Net (tests/fakes/running.py); the
policy itself against the sandbox (``online``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.fakes.running import ACQUIRERS, start_served
from tests.helpers.agreement import disagreements, journal_transactions
from tests.helpers.sandbox import KEY, point_cli_at


@pytest.fixture
def online(monkeypatch, served_sandbox):
    point_cli_at(monkeypatch, served_sandbox.url, timeout_s=3)
    return served_sandbox


@pytest.fixture(params=ACQUIRERS)
def each_online(request, monkeypatch, tmp_path):
    """Each acquirer in turn, restartable on the same port, the CLI pointed at it."""
    acquirer = start_served(request.param, tmp_path / "acquirer")
    for name, value in acquirer.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPOS_GATEWAY_TIMEOUT", "3")
    try:
        yield acquirer
        assert acquirer.refused_requests() == []  # every request signed / valid against the XSD
    finally:
        acquirer.stop()


def _queue(mpos) -> dict:
    result = mpos("offline", "status", "--json")
    assert result.exit_code == 0, result
    return result.json()


def _tx(home, tx_id):
    return next(tx for tx in journal_transactions(home) if tx.id == tx_id)


def test_stored_while_down_then_forwarded_when_back(mpos, isolated_home, each_online):
    assert mpos("charge", "5.00", "--json").exit_code == 0  # online first
    each_online.stop()

    stored = mpos("charge", "12.00", "--json")
    assert stored.exit_code == 0, stored
    tx = stored.json()
    assert (tx["status"], tx["offline"], tx["response_code"], tx["auth_code"]) == ("offline", True, None, None)
    assert "STORED OFFLINE" in stored.stderr and "may still decline" in stored.stderr
    held = _tx(isolated_home, tx["id"])
    assert held.stored_card_data and held.stage == "stored"  # the reader's sealed blob only
    second = mpos("charge", "7.50", "--tip", "0.50", "--json").json()
    queue = _queue(mpos)
    assert queue["count"] == 2 and queue["totals_minor"] == {"EUR": 2000}
    assert [t["id"] for t in queue["transactions"]] == [tx["id"], second["id"]]

    # Still down: forwarding says so, exit 6, nothing lost.
    down = mpos("offline", "forward")
    assert down.exit_code == 6, down
    assert _queue(mpos)["count"] == 2

    each_online.start()
    forwarded = mpos("offline", "forward", "--json")
    assert forwarded.exit_code == 0, forwarded
    assert [(t["id"], t["status"]) for t in forwarded.json()] == [(tx["id"], "approved"), (second["id"], "approved")]
    assert _queue(mpos)["count"] == 0
    after = _tx(isolated_home, tx["id"])
    assert after.stored_card_data is None and after.offline and after.auth_code
    entry = each_online.entry(tx["id"])
    # Marked as a deferred authorisation where the acquirer documents a mark
    # (the sandbox; Cybersource's deferredAuthIndicator), Authorize.Net has none.
    assert entry["status"] == "approved" and entry["deferred"] is each_online.marks_deferred
    assert disagreements(journal_transactions(isolated_home), each_online.ledger()) == []


def test_forwarding_happens_by_itself_at_the_next_command(mpos, isolated_home, each_online):
    each_online.stop()
    tx = mpos("charge", "9.00", "--json").json()
    assert tx["status"] == "offline"
    # While the acquirer is down, the next sale is not held up: stored too.
    assert mpos("charge", "3.00", "--json").json()["status"] == "offline"
    each_online.start()
    result = mpos("charge", "4.00", "--json")
    assert result.exit_code == 0, result
    assert result.json()["status"] == "approved" and result.json()["offline"] is False
    assert _queue(mpos)["count"] == 0
    assert _tx(isolated_home, tx["id"]).status == "approved"
    assert disagreements(journal_transactions(isolated_home), each_online.ledger()) == []


def test_a_decline_after_forwarding_is_loud_and_recorded(mpos, isolated_home, each_online):
    each_online.stop()
    tx = mpos("charge", "12.51", "--json").json()  # .51: insufficient funds, learnt later
    assert tx["status"] == "offline"
    each_online.start()
    result = mpos("offline", "forward")
    assert result.exit_code == 3, result
    assert "DECLINED" in result.stderr and tx["id"] in result.stderr and "NOT paid" in result.stderr
    after = _tx(isolated_home, tx["id"])
    assert (after.status, after.response_code) == ("declined", "51")
    assert "DECLINED after forwarding" in after.message
    assert after.stored_card_data is None
    shown = mpos("journal", "show", tx["id"], "--json").json()
    assert shown["status"] == "declined" and shown["offline"] is True
    assert disagreements(journal_transactions(isolated_home), each_online.ledger()) == []


def test_a_decline_found_by_start_of_command_forwarding_is_shown(mpos, isolated_home, each_online):
    each_online.stop()
    tx = mpos("charge", "20.05", "--json").json()
    each_online.start()
    result = mpos("charge", "1.00", "--json")
    assert result.exit_code == 0, result
    assert f"!! {tx['id']} was DECLINED when forwarded" in result.stderr
    assert _tx(isolated_home, tx["id"]).status == "declined"


def test_recover_forwards_the_queue_too(mpos, isolated_home, each_online):
    each_online.stop()
    tx = mpos("charge", "9.00", "--json").json()
    each_online.start()
    result = mpos("recover", "--json")
    assert result.exit_code == 0, result
    assert [t["id"] for t in result.json()["forwarded"]] == [tx["id"]]


def test_policy_refusals_are_not_stored(mpos, isolated_home, online):
    online.stop()
    never = mpos("charge", "5.00", "--offline", "never")
    assert never.exit_code == 6 and "switched off" in never.stderr, never
    pin = mpos("charge", "20.00", "--card", "chip")  # chip and online PIN: only the issuer can check it
    assert pin.exit_code == 6 and "online PIN" in pin.stderr, pin
    swipe = mpos("charge", "5.00", "--card", "swipe")
    assert swipe.exit_code == 6 and "swiped" in swipe.stderr, swipe
    assert mpos("config", "set", "contactless.cvm_limit", "200.00").exit_code == 0
    big = mpos("charge", "100.01")
    assert big.exit_code == 6 and "offline limit" in big.stderr, big
    assert _queue(mpos)["count"] == 0
    statuses = {tx.status for tx in journal_transactions(isolated_home)}
    assert statuses == {"failed"}
    assert "nobody was charged" in big.stderr


def test_count_and_total_caps(mpos, isolated_home, online):
    online.stop()
    assert mpos("config", "set", "offline.max_count", "2").exit_code == 0
    assert mpos("config", "set", "offline.max_total", "30.00").exit_code == 0
    assert mpos("charge", "10.00", "--json").json()["status"] == "offline"
    over_total = mpos("charge", "25.00")
    assert over_total.exit_code == 6 and "stored total" in over_total.stderr, over_total
    assert mpos("charge", "20.00", "--json").json()["status"] == "offline"
    over_count = mpos("charge", "1.00")
    assert over_count.exit_code == 6 and "already stored (limit 2)" in over_count.stderr, over_count
    assert _queue(mpos)["count"] == 2
    online.start()
    assert mpos("offline", "forward").exit_code == 0
    assert disagreements(journal_transactions(isolated_home), online.ledger()) == []


def test_max_age_refuses_new_offline_payments_until_forwarded(isolated_home, monkeypatch, served_sandbox):
    """Through the core with a clock: a queue older than offline.max_age_hours
    accepts nothing more until it has been forwarded."""
    from mpos_cli.env import Environment
    from mpos_cli.errors import GatewayUnreachable
    from mpos_cli.money import currency
    from mpos_cli.payments import Payments, SaleRequest
    from mpos_cli.pos import PointOfSale

    served_sandbox.stop()
    now = [datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)]
    environ = dict(__import__("os").environ, MPOS_GATEWAY_URL=served_sandbox.url, MPOS_GATEWAY_KEY=KEY)

    def sale(amount_minor: int):
        env = Environment(environ=environ, clock=lambda: now[0])
        with PointOfSale(env) as pos:
            return Payments(pos).charge(SaleRequest(amount_minor, 0, currency("EUR")))

    assert sale(1000).status == "offline"
    now[0] += timedelta(hours=71)
    assert sale(1000).status == "offline"
    now[0] += timedelta(hours=2)  # the oldest is now 73 h old (limit 72)
    with pytest.raises(GatewayUnreachable, match="older than the offline age limit"):
        sale(1000)


def test_an_expired_card_is_never_stored(isolated_home):
    """The scheme rule on its own: the simulated cards do not expire, so the
    reader's answer is built here, with a card that expired last month."""
    from mpos_cli.drivers.base import CardResult
    from mpos_cli import offline
    from mpos_cli.env import Environment
    from mpos_cli.journal import Journal
    from mpos_cli.transaction import Transaction

    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    env = Environment(environ=dict(__import__("os").environ), clock=lambda: now)
    tx = Transaction(id="20261124-EXP001", type="sale", status="pending", amount_minor=500, tip_minor=0,
                     currency="EUR", created_at=now, business_date="2026-11-24", sandbox=True)

    def card(expiry: str) -> CardResult:
        return CardResult(decision="online", entry_mode="contactless", cvm="none", scheme="visa",
                          masked_pan="476173******0010", expiry=expiry, emv={}, encrypted_card_data="sealed")

    journal = Journal(env.data_path("journal"))
    try:
        assert offline.refusal_reason(env, journal, tx, card("2610")) == "the card has expired"
        assert offline.refusal_reason(env, journal, tx, card("2611")) is None
    finally:
        journal.close()


def test_a_sandbox_payment_stored_offline_stays_a_sandbox_payment(mpos, isolated_home, online):
    """Sandbox-ness belongs to the acquirer that answered or will answer: an
    offline payment keeps it before and after forwarding, and says SANDBOX."""
    first = mpos("charge", "5.00", "--json").json()
    assert first["sandbox"] is True
    online.stop()
    stored = mpos("charge", "12.00")
    assert stored.exit_code == 0 and "SANDBOX" in stored.stdout + stored.stderr, stored
    (tx,) = [t for t in mpos("journal", "list", "--json").json() if t["status"] == "offline"]
    assert tx["sandbox"] is True
    online.start()
    forwarded = mpos("offline", "forward", "--json").json()
    assert [(t["id"], t["status"], t["sandbox"]) for t in forwarded] == [(tx["id"], "approved", True)]
    assert mpos("journal", "show", tx["id"], "--json").json()["sandbox"] is True


def test_an_acquirer_never_reached_is_settled_by_its_first_answer(mpos, isolated_home, online):
    """Nothing known about the acquirer yet (it was down from the start): the
    stored payment is recorded as live, and the forwarding answer corrects it."""
    online.stop()
    tx = mpos("charge", "12.00", "--json").json()
    assert (tx["status"], tx["sandbox"]) == ("offline", False)
    online.start()
    (forwarded,) = mpos("offline", "forward", "--json").json()
    assert (forwarded["status"], forwarded["sandbox"]) == ("approved", True)
