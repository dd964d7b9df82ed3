"""What a command that moves money does first (SPEC §9): finish what a
previous run left open, then forward the offline queue, both briefly.

Each gets the short ``retry.BRIEF`` policy and stops at the first sign of a
dead network, so a sale is never held up by an acquirer that is down: the
next run, or ``mpos recover``, picks up what is left.
"""

from __future__ import annotations

from typing import Callable

from mpos_cli import offline
from mpos_cli.recovery import OPEN_STAGES, Recovery


def catch_up(pos, notify: Callable[[str], None]) -> None:
    """Costs one read of ``open.idx`` when nothing is open."""
    open_txs = pos.journal.open_transactions()
    if not open_txs:
        return
    if any(tx.method == "qr" for tx in open_txs):  # QR payments past qr.expiry_days expire
        from mpos_cli.qr_payments import expire_overdue

        expire_overdue(pos, notify)
    if any(tx.stage in OPEN_STAGES for tx in open_txs):
        Recovery(pos, notify).run(brief=True)
    if offline.queued(pos.journal):
        offline.forward(pos, notify, brief=True)
