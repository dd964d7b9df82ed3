"""mpos reader: find, choose and check the card reader; run the simulator over BLE."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import command_group, options

reader_app, register = command_group("reader", "Find, choose and check the card reader.")


@reader_app.command("scan")
def scan(
    ctx: typer.Context,
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds to listen for readers."),
    json_: options.Json = False,
) -> None:
    """List Bluetooth LE card readers in range (strongest signal first)."""
    import asyncio

    from mpos_cli.drivers.transport.ble import scan as ble_scan

    from mpos_cli.commands.app import App

    app = App.of(ctx)
    config = app.env.config
    app.message(f"Looking for readers for {timeout:g} s…")
    found = asyncio.run(ble_scan(timeout_s=timeout, adapter=config["ble.adapter"] or None,
                                 service_uuid=config["ble.service_uuid"]))
    rows = [{"name": r.name, "address": r.address, "rssi_dbm": r.rssi_dbm, "spec": f"ble:{r.address}"} for r in found]
    if json_:
        app.print_json(rows)
        return
    if not rows:
        app.message("No reader found: is it on, charged and near? (mpos reader use SPEC picks one)")
        return
    app.print_table(("Name", "Address", "Signal", "Use with"), (
        (row["name"] or "(no name)", row["address"], f"{row['rssi_dbm']} dBm" if row["rssi_dbm"] is not None else "?",
         f"mpos reader use {row['spec']}")
        for row in rows
    ))


@reader_app.command("use")
def use(ctx: typer.Context, spec: str = typer.Argument(..., help="sim, ble:ADDRESS, ble:NAME or serial:PATH.")) -> None:
    """Make SPEC the reader for payments (saved in config.toml; a Bluetooth reader's address is remembered once found)."""
    from mpos_cli.drivers.registry import check_spec

    from mpos_cli.commands.app import App
    from mpos_cli.config import set_value

    check_spec(spec)  # refuses a spec that names no reader (exit 2); connects to nothing
    app = App.of(ctx)
    env = app.env
    stored = set_value(env.config_path, "reader", spec)
    app.message(f"reader = {stored!r} in {env.config_path}")
    if stored.lower().startswith("ble:"):
        app.message("Its address is remembered when it first connects; later payments go to it without a scan.")


@reader_app.command("status")
def status(ctx: typer.Context, json_: options.Json = False) -> None:
    """Connect to the configured reader and show what it reports."""
    import asyncio
    from dataclasses import asdict

    from mpos_cli.commands.app import App

    app = App.of(ctx)
    pos = app.pos

    async def ask():
        reader = pos.open_reader()
        async with reader:
            return await reader.status()

    app.message(f"Connecting to reader {pos.env.config['reader']}…")
    result = asdict(asyncio.run(ask()))
    if json_:
        app.print_json(result)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=False)
    for key, value in result.items():
        if value is not None:
            table.add_row(key.replace("_", " "), _human(value))
    app.console.print(table)


@reader_app.command("simulate")
def simulate(
    ctx: typer.Context,
    ble: bool = typer.Option(False, "--ble", help="Run as a Bluetooth LE peripheral (through BlueZ)."),
    serial: bool = typer.Option(False, "--serial", help="Serve on a new pseudo-terminal; its path is the first line on stdout."),
    adapter: Optional[str] = typer.Option(None, "--adapter", metavar="HCI", help="Local adapter, e.g. hci0 (--ble)."),
    name: str = typer.Option("mpos-sim", "--name", help="The name the reader advertises (--ble)."),
    battery: int = typer.Option(87, "--battery", min=0, max=100, metavar="PERCENT",
                                help="The battery level the simulated reader reports."),
) -> None:
    """Run the simulated card reader for other mpos processes to pay with."""
    from mpos_cli.commands.app import App
    from mpos_cli.errors import UsageError

    app = App.of(ctx)
    if ble == serial:
        raise UsageError("the simulated reader runs in process by itself; --ble makes it a Bluetooth peripheral, "
                         "--serial serves it on a pseudo-terminal (one of them)",
                         hint="mpos reader simulate --serial (or --ble)")
    from mpos_cli.drivers.sim.device import SimulatedReaderDevice

    config = app.env.config
    device = SimulatedReaderDevice(
        cvm_limit_minor=config["contactless.cvm_limit"].minor_in(config["currency"]) or 0, battery_percent=battery)
    if serial:
        _simulate_serial(app, device)
        return
    from mpos_cli.drivers.sim.ble_peripheral import serve_ble

    reader_options = {
        "device": device,
        "service_uuid": config["ble.service_uuid"],
        "write_uuid": config["ble.write_uuid"],
        "notify_uuid": config["ble.notify_uuid"],
    }

    def ready(peripheral) -> None:
        where = peripheral.adapter_path.rsplit("/", 1)[-1]
        app.message(f"Simulated reader {name!r} advertising on {where}; pay with MPOS_READER=ble:{name}. "
                    "Ctrl-C stops it.")

    try:
        serve_ble(adapter, name, on_ready=ready, **reader_options)
    except KeyboardInterrupt:
        app.message("Simulated reader stopped.")
        raise typer.Exit(130)


def _simulate_serial(app, device) -> None:
    import os
    import signal

    from mpos_cli.errors import UsageError

    if os.name != "posix":
        raise UsageError("--serial needs pseudo-terminals (Linux, macOS, BSD)", hint="use --ble, or sim in process")
    from mpos_cli.drivers.sim.pty_serial import serve_pty

    def ready(path: str) -> None:
        out = app.env.stdout
        out.write(path + "\n")  # the first line on stdout: scripts read the path from it
        out.flush()
        app.message(f"Simulated reader on {path}; pay with MPOS_READER=serial:{path}. Ctrl-C stops it.")

    stopped_by = serve_pty(on_ready=ready, device=device)
    if stopped_by == signal.SIGINT:
        app.message("Simulated reader stopped.")
        raise typer.Exit(130)


def _human(value) -> str:
    """A value as a person reads it: yes/no, not True/False."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
