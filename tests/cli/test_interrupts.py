"""Ctrl-C, one rule per stage of the sale (SPEC §9), each with its own test.

The CLI runs in process (``cli.run`` installs its SIGINT handler in the main
thread, as it does for ``mpos``); a real SIGINT is sent to this process at
the moment under test: from a timer thread while the flow waits, or from
inside a wrapped reader or gateway call, which is the one moment that call
stands for. The journal and the embedded acquirer's ledger are then read
back: what was printed and the exit code must agree with both.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from tests.helpers.agreement import journal_transactions, ledger_of


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def _ctrl_c_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, _ctrl_c)
    timer.daemon = True
    timer.start()
    return timer


def _sales(home):
    return [tx for tx in journal_transactions(home) if tx.type == "sale"]


def _ledger(home):
    return ledger_of(home)


def _the_sale(result, home, status: str):
    """The one sale in the journal: the one ``result`` printed, and ``status`` in both."""
    printed = result.json()
    (sale,) = _sales(home)
    assert printed["id"] == sale.id and printed["status"] == sale.status == status
    return sale


@pytest.fixture(autouse=True)
def python_sigint_back():
    """Whatever happens, the test run keeps Python's own SIGINT handler."""
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


# -- before the authorisation leaves: cancel, exit 130, nothing charged ------------


def test_ctrl_c_while_waiting_for_the_card_cancels_at_the_reader(mpos, isolated_home):
    timer = _ctrl_c_after(0.8)
    started = time.monotonic()
    result = mpos("charge", "12.00", "--json", env={"MPOS_SIM_CUSTOMER_SECONDS": "20"})
    timer.cancel()
    assert result.exit_code == 130, result
    assert time.monotonic() - started < 10  # cancelled, not waited out
    assert "mpos: error: cancelled, nothing was charged" in result.stderr
    assert "Traceback" not in result.stderr
    sale = _the_sale(result, isolated_home, "cancelled")
    assert str(sale.stage) == "done"
    assert all(entry["reference"] != sale.id for entry in _ledger(isolated_home))


def test_ctrl_c_just_after_the_card_was_read_still_cancels(mpos, isolated_home, monkeypatch):
    """The boundary: the card answered, ``sent`` is not journaled yet."""
    from mpos_cli.drivers.sim.reader import SimulatedReader

    original = SimulatedReader.start_transaction

    async def read_then_ctrl_c(self, request):
        result = await original(self, request)
        signal.raise_signal(signal.SIGINT)  # after the last await of the read
        return result

    monkeypatch.setattr(SimulatedReader, "start_transaction", read_then_ctrl_c)
    result = mpos("charge", "9.00", "--json")
    assert result.exit_code == 130, result
    assert "cancelled, nothing was charged" in result.stderr
    sale = _the_sale(result, isolated_home, "cancelled")
    assert sale.card is not None  # the card was read; it was never sent
    assert _ledger(isolated_home) == []


def test_ctrl_c_before_the_sale_began_charges_nothing(mpos, isolated_home, monkeypatch):
    from mpos_cli.commands.app import App

    def interrupted_catch_up(self):
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(App, "recover_briefly", interrupted_catch_up)
    result = mpos("charge", "5.00", "--json")
    assert result.exit_code == 130, result
    assert result.stdout == ""
    assert "cancelled, nothing was charged" in result.stderr and "Traceback" not in result.stderr
    assert _sales(isolated_home) == []


# -- after it left: finish, say the true outcome ----------------------------------------


def test_ctrl_c_twice_while_authorising_finishes_the_payment(mpos, isolated_home, monkeypatch):
    from mpos_cli.gateway.client import HttpGateway

    original = HttpGateway.authorise

    def ctrl_c_twice_then_send(self, request, **kwargs):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        time.sleep(0.2)  # the notice is written by its own thread
        return original(self, request, **kwargs)

    monkeypatch.setattr(HttpGateway, "authorise", ctrl_c_twice_then_send)
    result = mpos("charge", "14.00", "--json")
    assert result.exit_code == 0, result
    assert "finishing the payment, please wait" in result.stderr
    sale = _the_sale(result, isolated_home, "approved")
    (entry,) = _ledger(isolated_home)
    assert entry["reference"] == sale.id and entry["status"] == "approved"


def test_ctrl_c_on_a_slow_acquirer_waits_for_the_true_outcome(mpos, isolated_home):
    """Total ending .98: the sandbox approves, then holds its answer."""
    timer = _ctrl_c_after(0.5)
    second = _ctrl_c_after(0.9)
    result = mpos("charge", "3.98", "--json", env={"MPOS_SANDBOX_HOLD_SECONDS": "1.5"})
    timer.cancel(), second.cancel()
    assert result.exit_code == 0, result
    assert "finishing the payment, please wait" in result.stderr
    _the_sale(result, isolated_home, "approved")
    assert [e["status"] for e in _ledger(isolated_home)] == ["approved"]


def test_ctrl_c_while_the_card_confirms_the_approval(mpos, isolated_home, monkeypatch):
    from mpos_cli.drivers.sim.reader import SimulatedReader

    original = SimulatedReader.complete

    async def ctrl_c_then_complete(self, response):
        signal.raise_signal(signal.SIGINT)
        return await original(self, response)

    monkeypatch.setattr(SimulatedReader, "complete", ctrl_c_then_complete)
    result = mpos("charge", "6.00", "--json")
    assert result.exit_code == 0, result
    _the_sale(result, isolated_home, "approved")


def test_ctrl_c_on_a_decline_reports_the_decline(mpos, isolated_home, monkeypatch):
    from mpos_cli.gateway.client import HttpGateway

    original = HttpGateway.authorise

    def ctrl_c_then_send(self, request, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return original(self, request, **kwargs)

    monkeypatch.setattr(HttpGateway, "authorise", ctrl_c_then_send)
    result = mpos("charge", "10.05", "--json")
    assert result.exit_code == 3, result
    _the_sale(result, isolated_home, "declined")


# -- everywhere else: exit 130, one line, never a traceback -----------------------------


def test_ctrl_c_in_a_command_that_moves_no_money(mpos, isolated_home, monkeypatch):
    from mpos_cli.journal import Journal

    def interrupted_iter(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        yield from ()

    monkeypatch.setattr(Journal, "iter", interrupted_iter)
    result = mpos("journal", "list", "--json")
    assert result.exit_code == 130, result
    assert result.stderr.startswith("mpos: error: interrupted") and "Traceback" not in result.stderr


def test_ctrl_c_while_settling_is_one_line(mpos, isolated_home, monkeypatch):
    assert mpos("charge", "4.00", "--json").exit_code == 0
    from mpos_cli.gateway.client import HttpGateway

    def interrupted_close(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)

    with monkeypatch.context() as patched:
        patched.setattr(HttpGateway, "close_batch", interrupted_close)
        result = mpos("settle")
    assert result.exit_code == 130, result
    assert "Traceback" not in result.stderr and "mpos: error: interrupted" in result.stderr
    again = mpos("settle", "--json")  # the batch it began is closed, once
    assert again.exit_code == 0, again
    assert json.loads(again.stdout)["status"] == "balanced"


def test_ctrl_c_stops_sandbox_serve_with_one_line(isolated_home):
    from tests.helpers.sandbox import ServedSandbox

    proc = ServedSandbox(isolated_home).start().proc
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Traceback" not in err and "Sandbox acquirer stopped." in err


def test_ctrl_c_during_recover_is_one_line_and_recover_finishes_later(mpos, isolated_home, monkeypatch):
    from mpos_cli.drivers.sim.reader import SimulatedReader
    from mpos_cli.gateway.client import HttpGateway

    async def crash_at_complete(self, response):  # leaves the sale authorised, as a crash would
        raise SystemExit(9)

    with monkeypatch.context() as patched:
        patched.setattr(SimulatedReader, "complete", crash_at_complete)
        with pytest.raises(SystemExit):
            mpos("charge", "8.00", "--json")
    original = HttpGateway.lookup

    def interrupted_lookup(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(HttpGateway, "lookup", interrupted_lookup)
        result = mpos("recover")
    assert result.exit_code == 130, result
    assert "Traceback" not in result.stderr and "mpos: error: interrupted" in result.stderr
    done = mpos("recover", "--json")
    assert done.exit_code == 0, done
    assert json.loads(done.stdout)["still_open"] == []
