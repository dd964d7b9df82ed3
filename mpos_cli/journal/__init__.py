"""The journal: every transaction and every change to it, on local disk.

Interface (the flow, settlement and reports use only this):

- ``Journal(directory, *, lock_timeout)``; ``close()`` (or ``with``).
- ``add(tx)`` records a new transaction; durable (fsynced) on return;
  an id already there raises ``DuplicateTransaction``.
- ``update(tx)`` records a new state of a known transaction; the change must
  be allowed by ``transaction.TRANSITIONS`` from the state the journal holds
  (else ``InvalidTransition``); durable on return.
- ``add_many(txs)`` bulk insert (seeding): one append and fsync per month.
- ``get(tx_id)`` (unknown id: ``UsageError``, exit 2) / ``find(tx_id)``
  (None) open only the id's month; ``iter(date_from, date_to, status)``
  reads only the partitions the range needs, one at a time, streaming.
- ``open_transactions()`` lists what recovery or forwarding must look at
  (pending, offline, reversal due) without reading the whole journal.
- ``changes(cursor)`` streams every record written after a ``Cursor``
  (``mpos_cli.journal.changes``: the feed ``mpos sync`` pushes); each
  transaction's ``version`` counts the journal's writes of it (1 on ``add``).
- ``verify()`` → ``VerifyReport`` (counts, ``problems``, ``warnings``,
  ``torn_tails``, ``clean``); ``compact()``.

Writes hold an exclusive lock on ``journal/LOCK``: several mpos processes
can share one journal. Waiting longer than ``lock_timeout`` raises
``JournalLocked``; a corrupt partition raises ``StateUnreadable`` (both
exit 8) and is never written to. The storage design is in
``mpos_cli.journal.store`` and ``man 5 mpos-files``.
"""

from mpos_cli.journal.changes import Change, Cursor
from mpos_cli.journal.store import DuplicateTransaction, Journal, VerifyReport, locate

__all__ = ["Change", "Cursor", "DuplicateTransaction", "Journal", "VerifyReport", "locate"]
