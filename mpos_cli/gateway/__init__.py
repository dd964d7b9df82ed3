"""The acquirer gateway: the interface, the httpx client, the sandbox acquirer.

A second acquirer adapter is one module implementing ``Gateway`` and an
entry point in the ``mpos.gateways`` group.

``gateway.url`` picks the adapter:

- ``sandbox`` (or unset): the sandbox acquirer, embedded on 127.0.0.1 and an
  ephemeral port for the life of the process, behind a random per-run bearer
  key, reached with ``HttpGateway`` (``sandbox`` is True);
- ``https://…`` (or ``http://`` to loopback): ``HttpGateway``; ``sandbox``
  is True when the server's ``/v1/health`` says it is the mpos sandbox;
- ``NAME:…`` or ``NAME+https://…``: the ``mpos.gateways`` entry point
  ``NAME``, built with ``Adapter.from_environment(env)`` when it has one,
  else ``Adapter(env)``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mpos_cli.errors import UsageError

if TYPE_CHECKING:
    from mpos_cli.env import Environment
    from mpos_cli.gateway.base import Gateway

ENTRY_POINT_GROUP = "mpos.gateways"

# httpx's package __init__ imports its own command-line client (httpx._main,
# which loads click, rich and pygments) only to expose ``httpx.main``; mpos
# never runs it, and it costs about 45 ms at every payment's start
# (tests/bench/bench_cli.py). httpx falls back to a stub ``main`` when that
# import fails, so it is made to fail before httpx is first imported by the
# client modules below this package.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]


def open_gateway(env: "Environment") -> "Gateway":
    config = env.config
    url = str(config["gateway.url"] or "sandbox").strip()
    timeout = float(config["gateway.timeout"])
    if url == "sandbox":
        from mpos_cli.gateway.sandbox import daemon

        if daemon.wanted(env.environ):
            shared = _background_sandbox(env, timeout)
            if shared is not None:
                return shared
        import secrets

        from mpos_cli.gateway.client import HttpGateway
        from mpos_cli.gateway.sandbox import hold_seconds_from, start_embedded

        hold = hold_seconds_from(env.environ)
        key = secrets.token_urlsafe(24)  # only this process can talk to its sandbox
        base_url, stop = start_embedded(env.data_path(), key=key, hold_seconds=hold)
        try:
            return HttpGateway(base_url, key=key, timeout=timeout, sandbox=True, on_close=stop)
        except BaseException:
            stop()
            raise
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        from mpos_cli.gateway.client import HttpGateway

        return HttpGateway(
            url, key=env.gateway_key, timeout=timeout, ca_bundle=config["gateway.ca_bundle"] or None,
            identity_file=env.data_path("acquirers.json"),
        )
    adapter = _adapter(scheme.split("+", 1)[0], url)
    factory = getattr(adapter, "from_environment", None)
    return factory(env) if callable(factory) else adapter(env)


def _background_sandbox(env: "Environment", timeout: float):
    """The sandbox acquirer kept running between commands (gateway/sandbox/
    daemon.py), or None when it cannot be had (then one runs in process).

    One health call on the client's own keep-alive connection proves it is
    there; it never stops while a connection is open, so not under this
    command's payment."""
    from mpos_cli.errors import GatewayError
    from mpos_cli.gateway.client import HttpGateway
    from mpos_cli.gateway.sandbox import daemon

    for _ in range(2):  # a second try when it stopped (idle) just as we found it
        try:
            base_url, key = daemon.ensure_running(env.data_path(), env.environ)
        except OSError:
            return None
        gateway = HttpGateway(base_url, key=key, timeout=timeout, sandbox=True)
        try:
            gateway.health()
            return gateway
        except GatewayError:
            gateway.close()
    return None


def _adapter(name: str, url: str):
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name and name != "http":
            return entry.load()
    raise UsageError(
        f"gateway URL {url!r} names no known acquirer adapter",
        hint="use 'sandbox', an https:// URL, or install the adapter's package",
    )
