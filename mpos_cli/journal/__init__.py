"""The journal: every transaction and every change to it, on local disk.

Interface (the flow, settlement and reports use only this):

- ``add(tx)`` records a new transaction; durable (fsynced) on return.
- ``update(tx)`` records a new state of a known transaction; the change must
  be allowed by ``transaction.TRANSITIONS``; durable on return.
- ``get(tx_id)`` / ``find(tx_id)``; ``iter(date_from, date_to, status)``
  reads only the partitions the range needs.
- ``open_transactions()`` lists what recovery or forwarding must look at
  (pending, offline, reversal due) without reading the whole journal.
"""

from mpos_cli.journal.store import Journal, VerifyReport

__all__ = ["Journal", "VerifyReport"]
