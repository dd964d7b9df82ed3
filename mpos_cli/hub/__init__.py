"""The hub: several terminals, one business (SPEC §11; man mpos-sync(1)).

Each terminal keeps its own crash-safe journal and works alone when the
network does not. A PostgreSQL database, the *hub*, holds every terminal's
transactions; ``mpos sync`` pushes this terminal's journal changes there and
pulls the other terminals' into a read-only local copy.

- ``url``: ``hub.url`` / ``MPOS_HUB_URL``, checked (libpq URI, TLS off
  loopback, no password in config.toml) and shown without its password;
- ``schema``: the hub's tables, created and migrated by the hub's first
  client (versioned migrations under an advisory lock);
- ``remote``: one connection to the hub: registering this terminal,
  pushing a batch, pulling the others' changes, the terminals' standing;
- ``copy``: the local read-only copy of the other terminals (SQLite);
- ``sync``: the whole exchange, resumable and bounded in memory, and how
  far behind this terminal and its copy are;
- ``business``: the business-wide views (``--all-terminals``): this
  terminal's journal and the copy, merged;
- ``identity``: ``terminal.id`` is set once, before the first payment.

Nothing here is imported by the sale flow: a sale never waits for the hub
(the command layer syncs after the payment, briefly).
"""
