"""Recovery, the mirror image of the sale flow: every open stage to done,
against a real sandbox acquirer (SPEC §9)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.helpers.gateway import card_request
from tests.helpers.sandbox import KEY


def _environment(home, url: str):
    from mpos_cli.env import Environment

    environ = dict(os.environ, MPOS_HOME=str(home), MPOS_GATEWAY_URL=url, MPOS_GATEWAY_KEY=KEY,
                   MPOS_GATEWAY_TIMEOUT="3")
    return Environment(environ=environ)


def _open_sale(pos, stage, amount_minor: int = 1250):
    from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType, new_transaction_id

    now = datetime.now(timezone.utc).astimezone()
    tx = Transaction(
        id=new_transaction_id(now.date().isoformat()), type=TxType.SALE, status=TxStatus.PENDING, stage=Stage.INTENT,
        amount_minor=amount_minor, tip_minor=0, currency="EUR", created_at=now, updated_at=now,
        business_date=now.date().isoformat(), sandbox=True,
    )
    pos.journal.add(tx)
    if stage != Stage.INTENT:
        tx = tx.with_changes(stage=stage)
        pos.journal.update(tx)
    return tx


def test_an_intent_is_cancelled_without_asking_the_acquirer(isolated_home, sandbox):
    from mpos_cli.pos import PointOfSale
    from mpos_cli.recovery import Recovery
    from mpos_cli.transaction import Stage

    with PointOfSale(_environment(isolated_home, sandbox.url)) as pos:
        tx = _open_sale(pos, Stage.INTENT)
        resolved = Recovery(pos).run()
        assert [(t.id, t.status, t.stage) for t in resolved] == [(tx.id, "cancelled", Stage.DONE)]
    assert sandbox.ledger() == []


def test_a_payment_the_acquirer_never_saw_is_reversed_so_it_never_can_be(isolated_home, sandbox):
    from mpos_cli.pos import PointOfSale
    from mpos_cli.recovery import Recovery
    from mpos_cli.transaction import Stage

    with PointOfSale(_environment(isolated_home, sandbox.url)) as pos:
        tx = _open_sale(pos, Stage.SENT)
        (after,) = Recovery(pos).run()
        assert (after.status, after.stage) == ("failed", Stage.DONE)
        assert "never received" in after.message
    # The request still on its way (a killed process's last bytes) can never be honoured now.
    late = sandbox.gateway().authorise(card_request(1250, reference=tx.reference))
    assert not late.approved


def test_an_approval_the_card_never_confirmed_is_reversed(isolated_home, sandbox):
    from mpos_cli.pos import PointOfSale
    from mpos_cli.recovery import Recovery
    from mpos_cli.transaction import Stage

    with PointOfSale(_environment(isolated_home, sandbox.url)) as pos:
        tx = _open_sale(pos, Stage.SENT)
        assert sandbox.gateway().authorise(card_request(1250, reference=tx.reference)).approved
        (after,) = Recovery(pos).run()
    assert (after.status, after.stage) == ("failed", Stage.DONE)
    assert sandbox.entry(tx.reference)["status"] == "reversed"


def test_a_payment_claimed_by_a_live_process_is_left_to_it(isolated_home, sandbox):
    from mpos_cli.pos import PointOfSale
    from mpos_cli.recovery import Recovery
    from mpos_cli.transaction import Stage

    with PointOfSale(_environment(isolated_home, sandbox.url)) as pos:
        tx = _open_sale(pos, Stage.SENT)
        (pos.env.data_dir / "inflight").mkdir(mode=0o700, exist_ok=True)
        lock = pos.env.data_path("inflight", f"{tx.id}.lock")
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
             "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(lock)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "held"
            notes: list[str] = []
            assert Recovery(pos, notes.append).run() == []
            assert any("in progress in another mpos process" in note for note in notes)
            assert pos.journal.get(tx.id).stage == Stage.SENT
        finally:
            holder.kill()
            holder.wait()
        assert sandbox.ledger() == []  # nothing was sent on its behalf


def test_with_the_network_down_recover_backs_off_on_the_first_and_tries_the_rest_once(isolated_home):
    from mpos_cli.gateway.retry import RECOVER
    from mpos_cli.pos import PointOfSale
    from mpos_cli.recovery import Recovery
    from mpos_cli.transaction import Stage
    from tests.helpers.sandbox import free_port

    slept: list[float] = []
    with PointOfSale(_environment(isolated_home, f"http://127.0.0.1:{free_port()}")) as pos:
        first, second = _open_sale(pos, Stage.SENT), _open_sale(pos, Stage.SENT, 990)
        notes: list[str] = []
        recovery = Recovery(pos, notes.append, policy=RECOVER.with_(sleep=slept.append))
        assert recovery.run() == []
        assert len(slept) == RECOVER.attempts - 1  # backoff on the first only: the network is down
        assert {tx.id for tx in recovery.pending()} == {first.id, second.id}
        assert sum("still unresolved" in note for note in notes) == 2
        # The start of a command: one brief attempt, and the first failure ends the pass.
        notes.clear()
        assert Recovery(pos, notes.append, policy=RECOVER.with_(sleep=slept.append)).run(brief=True) == []
        assert sum("still unresolved" in note for note in notes) == 1 and len(slept) == RECOVER.attempts - 1
