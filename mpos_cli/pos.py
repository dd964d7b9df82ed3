"""The point of sale: one environment, one journal, one gateway, one reader.

Parts are opened lazily, so a command only pays for what it touches (a
``journal list`` never starts the sandbox acquirer or looks for a reader).
"""

from __future__ import annotations

from functools import cached_property

from mpos_cli.closing import ClosedOnExit
from mpos_cli.env import Environment
from mpos_cli.env_seconds import seconds_from_env


SIM_CUSTOMER_ENV = "MPOS_SIM_CUSTOMER_SECONDS"


def sim_customer_seconds(environ: dict[str, str]) -> float:
    """How long the simulated customer takes to tap, and to type a PIN
    (``MPOS_SIM_CUSTOMER_SECONDS``, default 0: scripts and tests do not wait)."""
    return seconds_from_env(environ, SIM_CUSTOMER_ENV, default=0.0, most=300)


class PointOfSale(ClosedOnExit):
    def __init__(self, env: Environment) -> None:
        self.env = env
        self._gateway = None
        # Every setting is checked now, before a reader or the acquirer is
        # touched: a bad config.toml stops the command here (exit 8).
        env.config

    @cached_property
    def journal(self):
        from mpos_cli.journal import Journal

        return Journal(self.env.data_path("journal"), lock_timeout=self.env.config["journal.lock_timeout"])

    @property
    def gateway(self):
        if self._gateway is None:
            from mpos_cli.gateway import open_gateway

            self._gateway = open_gateway(self.env)
        return self._gateway

    def open_reader(self, spec: str | None = None, *, currency: str | None = None):
        """The configured reader (or ``spec``), for payments in ``currency``
        (default: the configured one). A CVM limit set in another currency
        means no limit: every contactless payment asks for a PIN."""
        from mpos_cli.drivers.registry import open_reader

        config = self.env.config
        cvm_limit = config["contactless.cvm_limit"].minor_in(currency or config["currency"])
        options = {
            "cvm_limit_minor": cvm_limit or 0,
            "adapter": config["ble.adapter"] or None,
            "service_uuid": config["ble.service_uuid"],
            "write_uuid": config["ble.write_uuid"],
            "notify_uuid": config["ble.notify_uuid"],
            "timeout_s": config["reader.timeout"],
            "customer_delay_s": sim_customer_seconds(self.env.environ),
        }
        spec = spec or config["reader"]
        from mpos_cli.reader_select import reader_options

        options.update(reader_options(self.env, spec))  # scan timeout, remembered address, live feedback
        return open_reader(spec, options=options)

    @property
    def merchant(self) -> dict[str, str]:
        config = self.env.config
        return {
            "merchant_name": config["merchant.name"],
            "merchant_address": config["merchant.address"],
            "merchant_id": config["merchant.id"],
            "terminal_id": config["terminal.id"],
        }

    def close(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
            self._gateway = None
        if "journal" in self.__dict__:
            self.journal.close()
