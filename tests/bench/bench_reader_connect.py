"""Connect time to a Bluetooth LE reader: found by a scan, or reached
directly at its remembered address (issue 11, SPEC §4).

Run: .venv/bin/python tests/bench/bench_reader_connect.py [--runs N]

Uses the BlueZoo rig of tests/ble (a private dbus-daemon, BlueZoo with two
adapters, the simulated reader advertising on hci0; mpos on hci1), so it
needs dbus-daemon and bluezoo, and touches no real Bluetooth. Two levels,
alternated run by run so that machine noise hits both alike:

- driver: ``reader.connect()`` (link up, NEO 2 Ping, firmware, serial);
- CLI: a whole ``mpos charge 5.00`` in its own process, ``reader.json``
  removed before the "scan" runs and kept for the "remembered" ones.

Prints medians side by side and their ratio. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.ble.conftest import HOST_ADAPTER, READER_ADDRESS, Peripheral, bluetooth_rig  # noqa: E402

SPEC = "ble:mpos-sim"


def connect_once(known_address: str | None) -> tuple[float, int]:
    """Seconds to connect, and how many scans it took."""
    from mpos_cli.drivers.registry import open_reader

    reader = open_reader(SPEC, options={"adapter": HOST_ADAPTER, "known_address": known_address})

    async def run() -> float:
        started = time.perf_counter()
        await reader.connect()
        took = time.perf_counter() - started
        await reader.close()
        return took

    took = asyncio.run(run())
    return took, reader.transport.scans


def charge_once(home: Path, env: dict, remembered: bool) -> float:
    if not remembered:
        (home / "reader.json").unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mpos_cli", "charge", "5.00", "--no-receipt"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"charge failed: {proc.stderr}")
    return took


def row(label: str, scan: list[float], direct: list[float]) -> str:
    a, b = statistics.median(scan), statistics.median(direct)
    return f"{label:<28} {a * 1000:>10.0f} ms {b * 1000:>12.0f} ms {a / b:>8.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bluetooth_rig(Path(tmp)) as bus:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus
        peripheral = Peripheral(bus, "mpos-sim", None).start()
        home = Path(tmp) / "home"
        env = {**os.environ, "MPOS_HOME": str(home), "MPOS_READER": SPEC, "MPOS_BLE_ADAPTER": HOST_ADAPTER,
               "NO_COLOR": "1"}
        try:
            connect_once(None)  # warm-up: the first connection also sets up GATT caches
            charge_once(home, env, remembered=False)
            scan, direct, scans_seen = [], [], set()
            cli_scan, cli_direct = [], []
            for _ in range(args.runs):
                took, scans = connect_once(None)
                scan.append(took)
                scans_seen.add(("scan", scans))
                took, scans = connect_once(READER_ADDRESS)
                direct.append(took)
                scans_seen.add(("remembered", scans))
                cli_scan.append(charge_once(home, env, remembered=False))
                cli_direct.append(charge_once(home, env, remembered=True))
        finally:
            peripheral.stop()
    print(f"reader connect, BlueZoo rig, median of {args.runs} runs")
    print(f"{'':<28} {'scan':>13} {'remembered':>15} {'ratio':>9}")
    print(row("driver: reader.connect()", scan, direct))
    print(row("CLI: mpos charge 5.00", cli_scan, cli_direct))
    print("scans per connect:", ", ".join(f"{kind} {count}" for kind, count in sorted(scans_seen)))


if __name__ == "__main__":
    main()
