"""The sandbox acquirer: the HTTP API a real acquirer adapter would speak
(``man 7 mpos-gateway-api``), with a simulated issuer and a ledger in SQLite
under the home (``<data>/sandbox/acquirer.sqlite3``).

- ``serve(host, port, home)``: blocking, for ``mpos sandbox serve``;
- ``start_embedded(data_dir) -> (base_url, stop)``: on 127.0.0.1 and an
  ephemeral port in a daemon thread, for every CLI run in sandbox mode.

``MPOS_SANDBOX_HOLD_SECONDS`` shortens (or lengthens) the 60 s hold of
totals ending in 98, for tests and demos.
"""

__all__ = ["HOLD_ENV", "database_path", "hold_seconds_from", "make_server", "serve", "start_embedded"]

_SERVER_NAMES = {"HOLD_ENV", "hold_seconds_from", "make_server", "serve", "start_embedded"}


def __getattr__(name: str):
    # Loaded on first use (PEP 562): a command that talks to the background
    # acquirer imports ``sandbox.daemon`` only, not the acquirer and its
    # cryptography (about 45 ms).
    if name in _SERVER_NAMES:
        from mpos_cli.gateway.sandbox import server

        return getattr(server, name)
    if name == "database_path":
        from mpos_cli.gateway.sandbox.store import database_path

        return database_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
