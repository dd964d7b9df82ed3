"""The sandbox acquirer: the HTTP API a real acquirer adapter would speak
(``man 7 mpos-gateway-api``), with a simulated issuer and a ledger in SQLite
under the home (``<data>/sandbox/acquirer.sqlite3``).

- ``serve(host, port, home)``: blocking, for ``mpos sandbox serve``;
- ``start_embedded(data_dir) -> (base_url, stop)``: on 127.0.0.1 and an
  ephemeral port in a daemon thread, for every CLI run in sandbox mode.

``MPOS_SANDBOX_HOLD_SECONDS`` shortens (or lengthens) the 60 s hold of
totals ending in 98, for tests and demos.
"""

from mpos_cli.gateway.sandbox.server import HOLD_ENV, hold_seconds_from, make_server, serve, start_embedded
from mpos_cli.gateway.sandbox.store import database_path

__all__ = ["HOLD_ENV", "database_path", "hold_seconds_from", "make_server", "serve", "start_embedded"]
