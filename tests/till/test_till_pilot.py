"""The till driven key by key with Textual's pilot: a real engine, the sim
reader, the embedded sandbox acquirer, the journal in the test's home."""

from __future__ import annotations

import json
import os

import pytest

from tests.till.conftest import SlowCustomer, drive, screen_text, until


@pytest.fixture
def slow_till(make_till):
    """``(reader, app)``: a till whose customer taps only once the test sets ``reader.tap``."""
    reader = SlowCustomer()
    return reader, make_till(reader=reader)


def journal(mpos):
    result = mpos("journal", "list", "--json")
    assert result.exit_code == 0, result
    return result.json()


def outcome_of(app):
    return app.payment.outcome if app.payment is not None else None


async def start(pilot):
    await until(pilot, lambda: pilot.app.ready.is_set(), what="the engine to start")
    await until(pilot, lambda: pilot.app.reader_state.connected, what="the reader")


async def wait_for_the_outcome(pilot):
    await until(pilot, lambda: outcome_of(pilot.app) is not None, what="the outcome")
    return outcome_of(pilot.app)


async def pay_and_wait(pilot):
    await pilot.press("enter")
    return await wait_for_the_outcome(pilot)


async def pay_and_wait_for_the_card(pilot, quick_key: str):
    """Start the till, ring up ``quick_key`` and pay: the reader waits for a card."""
    await start(pilot)
    await pilot.press(quick_key, "enter")
    await until(pilot, lambda: "Present card on the reader" in pilot.app.payment.steps)


def test_a_basket_from_quick_keys_is_paid_then_the_next_sale_then_quit(catalogue, make_till):
    app = make_till()

    async def scenario(pilot):
        await start(pilot)
        assert "1 Yoga class €12.00" in screen_text(app) and "mpos-sim" in screen_text(app)
        await pilot.press("1", "2", "2", "up", "plus")  # Yoga class, Mat ×2, then one more Yoga class
        assert [(line.name, line.quantity) for line in app.basket.lines] == [("Yoga class", 2), ("Mat", 2)]
        await pilot.press("t", "2")  # tip 10 %
        text = screen_text(app)
        assert "TOTAL (4 items) €33.00" in text and "Tip 10% €3.00" in text, text
        outcome = await pay_and_wait(pilot)
        assert outcome.status == "approved", outcome
        assert app.payment.steps[:2] == ["Present card on the reader", "Authorising…"]
        text = screen_text(app)
        assert "APPROVED €33.00" in text and "2 x Yoga class @ €12.00" in text  # the receipt
        await pilot.press("enter")  # next sale
        assert not app.basket and app.tip_points == 0
        await until(pilot, lambda: app.takings is not None and app.takings.sales_count == 1)
        assert "Sales 1" in screen_text(app) and "Taken €33.00" in screen_text(app)
        await pilot.press("3")
        await pay_and_wait(pilot)
        await pilot.press("enter", "q")
        return outcome

    outcome = drive(app, scenario)
    assert app.return_code == 0
    sales = journal(catalogue)
    assert [tx["status"] for tx in sales] == ["approved", "approved"]
    first = next(tx for tx in sales if tx["id"] == outcome.transaction.id)
    assert (first["amount_minor"], first["tip_minor"]) == (3000, 300)
    assert first["items"] == [
        {"name": "Yoga class", "quantity": 2, "unit_minor": 1200, "vat_basis_points": 2000},
        {"name": "Mat", "quantity": 2, "unit_minor": 300},
    ]


def test_a_declined_sale_keeps_the_basket_to_try_again(catalogue, make_till):
    app = make_till()

    async def scenario(pilot):
        await start(pilot)
        await pilot.press("4")  # Bad luck, 10.05: the sandbox declines with 05
        outcome = await pay_and_wait(pilot)
        assert outcome.status == "declined" and "05" in outcome.message
        assert outcome.message == "DECLINED €10.05: declined by the issuer: 05 do not honour"
        assert "DECLINED €10.05" in screen_text(app)
        await pilot.press("enter")
        assert [line.name for line in app.basket.lines] == ["Bad luck"]  # kept
        assert "Declined 1" in screen_text(app)
        await pilot.press("minus", "0")  # custom amount instead
        await until(pilot, lambda: app.screen.query("#amount"), what="the amount dialog")
        await pilot.press("7", ",", "5", "0", "enter")
        assert [(line.name, line.unit_minor) for line in app.basket.lines] == [("Custom amount", 750)]
        outcome = await pay_and_wait(pilot)
        assert outcome.status == "approved"
        await pilot.press("enter", "q")

    drive(app, scenario)
    statuses = sorted((tx["status"], tx["amount_minor"]) for tx in journal(catalogue))
    assert statuses == [("approved", 750), ("declined", 1005)]


def test_a_card_pulled_away_is_cancelled(catalogue, make_till):
    app = make_till()

    async def scenario(pilot):
        await start(pilot)
        await pilot.press("s", "s", "s")  # the simulated customer: contactless → chip → swipe → removed
        assert app.scenario == "removed"
        await pilot.press("1")
        outcome = await pay_and_wait(pilot)
        assert outcome.status == "cancelled"
        assert "CANCELLED" in screen_text(app)
        await pilot.press("enter", "q", "y")  # the basket is still open: asked first

    drive(app, scenario)
    assert app.return_code == 0
    assert [tx["status"] for tx in journal(catalogue)] == ["cancelled"]


def test_ctrl_c_before_the_card_is_read_cancels_at_the_reader_then_quits_130(catalogue, slow_till):
    reader, app = slow_till

    async def scenario(pilot):
        await pay_and_wait_for_the_card(pilot, "1")
        await pilot.press("ctrl+c")
        outcome = await wait_for_the_outcome(pilot)
        assert outcome.status == "cancelled" and "cancelled at the till" in outcome.message
        assert "Cancelling at the reader…" in app.payment.steps
        await pilot.press("enter", "ctrl+c")  # nothing under way: quit, 130

    drive(app, scenario)
    reader.tap.set()
    assert app.return_code == 130
    [tx] = journal(catalogue)
    assert tx["status"] == "cancelled" and tx["card"] is None  # nothing was sent


def test_ctrl_c_after_the_authorisation_left_finishes_and_shows_the_true_outcome(catalogue, slow_till):
    reader, app = slow_till
    reader.tap.set()
    reader.confirm.clear()  # the chip card takes its time over the issuer's answer

    async def scenario(pilot):
        await start(pilot)
        await pilot.press("s")  # chip: the card confirms the issuer's answer (second GENERATE AC)
        await pilot.press("1", "enter")
        await until(pilot, lambda: "Authorising…" in app.payment.steps)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: any("finishing" in step for step in app.payment.steps))
        await pilot.press("ctrl+c", "escape")  # a second Ctrl-C changes nothing
        assert outcome_of(app) is None
        reader.confirm.set()
        await wait_for_the_outcome(pilot)
        assert outcome_of(app).status == "approved"
        await pilot.press("enter", "q")

    drive(app, scenario)
    assert app.return_code == 0
    [tx] = journal(catalogue)
    assert tx["status"] == "approved" and tx["card"]["entry_mode"] == "chip"


def test_a_reader_that_drops_between_sales_is_reconnected_and_the_next_sale_goes_through(catalogue, make_till):
    app = make_till()

    async def scenario(pilot):
        await start(pilot)
        first_reader = app.engine.kept.reader
        await first_reader.transport.close()  # the link drops (on the engine's loop it would be a BLE disconnect)
        await pilot.press("3")
        outcome = await pay_and_wait(pilot)
        assert outcome.status == "failed" and "the reader dropped" in outcome.message
        await pilot.press("enter")
        await until(pilot, lambda: app.reader_state.connected, what="the reconnection")
        assert app.engine.kept.reader is not first_reader
        outcome = await pay_and_wait(pilot)
        assert outcome.status == "approved"
        await pilot.press("enter", "q")

    drive(app, scenario)
    assert sorted(tx["status"] for tx in journal(catalogue)) == ["approved", "failed"]


def test_q_during_a_payment_does_not_quit(catalogue, slow_till):
    reader, app = slow_till

    async def scenario(pilot):
        await pay_and_wait_for_the_card(pilot, "2")
        await pilot.press("q")
        assert app.is_running and any("under way" in step for step in app.payment.steps)
        reader.tap.set()
        await wait_for_the_outcome(pilot)
        await pilot.press("enter", "q")

    drive(app, scenario)
    assert [tx["status"] for tx in journal(catalogue)] == ["approved"]


def test_the_till_asks_the_pre_charge_hook_and_tells_the_post_charge_hook(catalogue, make_till, isolated_home,
                                                                          tmp_path):
    """SPEC §12 holds in the till as in mpos charge: a refusing pre-charge hook
    stops the sale before the reader is asked (nothing journaled); once it
    agrees, post-charge gets the journaled sale."""
    hooks = isolated_home / "hooks"
    hooks.mkdir(mode=0o700)
    gate = tmp_path / "open"
    told = tmp_path / "told.json"
    (hooks / "pre-charge").write_text(f'#!/bin/sh\n[ -e "{gate}" ] || {{ echo "till closed for lunch" >&2; exit 1; }}\n')
    (hooks / "post-charge").write_text(f'#!/bin/sh\ncat > "{told}.part" && mv "{told}.part" "{told}"\n')
    for name in ("pre-charge", "post-charge"):
        os.chmod(hooks / name, 0o700)
    app = make_till()

    async def scenario(pilot):
        await start(pilot)
        await pilot.press("2")
        refused = await pay_and_wait(pilot)
        gate.touch()
        await pilot.press("enter")  # back to the basket, kept for another try
        paid = await pay_and_wait(pilot)
        await until(pilot, told.exists)
        await pilot.press("enter", "q")
        return refused, paid

    refused, paid = drive(app, scenario)
    assert refused.status == "error" and "till closed for lunch" in refused.message, refused
    assert paid.status == "approved", paid
    assert [tx["id"] for tx in journal(catalogue)] == [paid.transaction.id]  # the refused sale wrote nothing
    assert json.loads(told.read_text())["id"] == paid.transaction.id


def test_p_takes_the_basket_as_a_qr_payment_pending_until_the_bank_shows_it(catalogue, make_till):
    """SPEC §10 in the till: the basket as an EPC QR code on the screen, the
    sale journaled pending with its items, then the next sale."""
    for key, value in (("qr.iban", "DE89370400440532013000"), ("qr.name", "Yoga Studio")):
        assert catalogue("config", "set", key, value).exit_code == 0
    app = make_till()

    async def scenario(pilot):
        await start(pilot)
        await pilot.press("1", "2")
        await pilot.press("p")
        outcome = await wait_for_the_outcome(pilot)
        text = screen_text(app)
        await pilot.press("enter")
        assert not app.basket  # a new sale begins
        await pilot.press("q")
        return outcome, text

    outcome, text = drive(app, scenario, size=(120, 40))
    assert outcome.status == "pending", outcome
    reference = outcome.transaction.qr["reference"]
    assert reference.startswith("RF") and reference in text, text
    assert any(block in text for block in "▀▄█"), text  # the code itself, in half blocks
    (sale,) = journal(catalogue)
    assert (sale["method"], sale["status"], sale["total_minor"]) == ("qr", "pending", 1500)
    assert [(item["name"], item["quantity"]) for item in sale["items"]] == [("Yoga class", 1), ("Mat", 1)]
    assert sale["qr"]["payload"].startswith("BCD\n002\n1\nSCT\n")
