"""mpos doctor with everything healthy and with everything down, side by side.

Run: .venv/bin/python tests/bench/bench_doctor.py [--runs N]

"Everything down": the acquirer and the hub behind blackholed loopback ports
(a full accept queue: SYNs are dropped, connect() waits for its limit), a
Bluetooth reader configured with no D-Bus. Prints each check's measured time
next to its limit, and the whole process's time against a sandbox
``mpos doctor`` (healthy) and ``mpos --version`` (start-up alone). Goal
(issue 18): everything down well under 10 s (about the longest single limit,
since the reader, acquirer and hub are checked side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def blackhole() -> tuple[socket.socket, list[socket.socket], int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    return server, fillers, port


def run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mpos_cli", *args], env=env, cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    from mpos_cli import doctor
    from mpos_cli.env import Environment

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        base = {**os.environ, "MPOS_HOME": str(home), "NO_COLOR": "1"}
        run(["charge", "5.00"], base)
        acquirer, hub = blackhole(), blackhole()
        down = {**base, "MPOS_GATEWAY_URL": f"https://127.0.0.1:{acquirer[2]}",
                "MPOS_HUB_URL": f"postgresql://till@127.0.0.1:{hub[2]}/shop",
                "MPOS_READER": "ble:AA:BB:CC:DD:EE:FF", "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"}

        # Per check, in process.
        diagnosis = doctor.diagnose(Environment(environ=down))
        limits = {"acquirer.tcp": doctor.CONNECT_TIMEOUT_S, "hub.tcp": doctor.CONNECT_TIMEOUT_S,
                  "acquirer.dns": doctor.DNS_TIMEOUT_S, "hub.dns": doctor.DNS_TIMEOUT_S,
                  "bluetooth": doctor.DBUS_TIMEOUT_S}
        print(f"{'check':<16} {'status':<6} {'seconds':>8} {'limit':>6}")
        for check in diagnosis.checks:
            limit = limits.get(check.check)
            print(f"{check.check:<16} {check.status:<6} {check.seconds:>8.3f} {limit if limit else '':>6}")
        print(f"{'in process':<16} {'':<6} {diagnosis.seconds:>8.3f}")

        # Whole processes, alternated so that noise hits all alike.
        times: dict[str, list[float]] = {"mpos --version": [], "doctor (healthy)": [], "doctor (all down)": []}
        for _ in range(options.runs):
            times["mpos --version"].append(run(["--version"], base)[0])
            times["doctor (healthy)"].append(run(["doctor", "--json"], base)[0])
            elapsed, done = run(["doctor", "--json"], down)
            assert done.returncode == 5, done.stderr
            assert {c["check"] for c in json.loads(done.stdout) if c["status"] == "fail"} >= {"acquirer.tcp", "hub.tcp"}
            times["doctor (all down)"].append(elapsed)
        for sock in [acquirer[0], *acquirer[1], hub[0], *hub[1]]:
            sock.close()
    baseline = statistics.median(times["mpos --version"])
    print()
    print(f"{'command':<20} {'median s':>9} {'× --version':>12}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<20} {median:>9.3f} {median / baseline:>12.1f}")
    print("goal: doctor (all down) well under 10 s")


if __name__ == "__main__":
    main()
