"""mpos sync at 10,000, 50,000 and 100,000 payments: one terminal's whole
backlog into an empty PostgreSQL hub, time and peak memory, beside a bare
baseline (the same records sent with one COPY into an unlogged table by a
minimal psycopg loop), then what a sync costs once caught up (nothing to
send, and one new payment) at each size.

    .venv/bin/python tests/bench/bench_sync.py [--sizes 10000,50000,100000]

Starts its own PostgreSQL server (Debian's postgresql package, as the tests
do). The backlogs are made with ``mpos sandbox seed --count N``. Peak memory
is the sync process's own maximum resident set (``wait4``); it includes
psycopg's COPY write queue, which fills further when the server is slow.
Figures, never assertions: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.hub.postgres_server import PostgresServer, find_binaries  # noqa: E402


def run_measured(args: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """(seconds, peak RSS in MiB, result) of one mpos process."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mpos_cli", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"mpos {' '.join(args)} failed: {err}")
    return seconds, usage.ru_maxrss / 1024, subprocess.CompletedProcess(args, proc.returncode, out, err)


def baseline_copy(home: Path, url: str) -> tuple[float, int]:
    """The floor: the same journal records, read the same way (the change
    feed), each as JSON into one COPY; no batches, no upsert, no checks."""
    import psycopg

    from mpos_cli.journal import Cursor, Journal

    started = time.perf_counter()
    count = 0
    with Journal(home / "journal") as journal, psycopg.connect(url) as conn:
        conn.execute("CREATE UNLOGGED TABLE IF NOT EXISTS bare (id text, record jsonb)")
        with conn.cursor() as cur, cur.copy("COPY bare (id, record) FROM STDIN") as copy:
            for change in journal.changes(Cursor()):
                for document in change.documents:
                    copy.write_row((document["id"], json.dumps(document)))
                    count += 1
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(binaries).init().start()
    server.setup_role()
    rows = []
    try:
        for size in sizes:
            home = Path(tempfile.mkdtemp(prefix="mpos-bench-sync-"))
            url = server.new_database()
            env = {**os.environ, "MPOS_HOME": str(home), "MPOS_HUB_URL": ""}
            seeded, _, _ = run_measured(["sandbox", "seed", "--count", str(size), "--days", "90"], env)
            env["MPOS_HUB_URL"] = url
            took, peak, result = run_measured(["sync", "--json"], env)
            report = json.loads(result.stdout)
            assert report["complete"] and report["pushed"] == size, report
            idle, idle_peak, _ = run_measured(["sync", "--json"], env)
            charge, _, charged = run_measured(["charge", "5.00", "--json", "--no-receipt"], env)
            assert "hub:" not in charged.stderr, charged.stderr
            env_no_hub = {**env, "MPOS_HUB_URL": ""}
            charge_alone, _, _ = run_measured(["charge", "5.00", "--json", "--no-receipt"], env_no_hub)
            one, _, _ = run_measured(["sync", "--json"], env)
            bare, count = baseline_copy(home, server.new_database())
            rows.append((size, seeded, took, peak, bare, idle, idle_peak, one, charge, charge_alone))
            shutil.rmtree(home, ignore_errors=True)
    finally:
        server.destroy()

    print(f"\nmpos sync into an empty hub (PostgreSQL, loopback; {os.cpu_count()} cores)\n")
    print(f"{'backlog':>9} {'seed s':>7} {'sync s':>7} {'per 1k':>7} {'peak MiB':>9} {'bare COPY s':>11} "
          f"{'sync/bare':>9} {'idle sync s':>11} {'+1 sync s':>9} {'charge+sync s':>13} {'charge s':>8}")
    for size, seeded, took, peak, bare, idle, idle_peak, one, charge, charge_alone in rows:
        print(f"{size:>9,} {seeded:>7.1f} {took:>7.2f} {took / size * 1000:>7.3f} {peak:>9.0f} {bare:>11.2f} "
              f"{took / bare:>9.1f} {idle:>11.2f} {one:>9.2f} {charge:>13.2f} {charge_alone:>8.2f}")
    first = rows[0]
    print("\ngrowth against the smallest backlog (1.0 = flat):")
    for size, _, took, peak, _, idle, _, one, _, _ in rows:
        print(f"  {size:>9,}: backlog x{size / first[0]:.0f}  sync time x{took / first[2]:.2f}  "
              f"peak memory x{peak / first[3]:.2f}  idle sync x{idle / first[5]:.2f}  one-payment sync x{one / first[7]:.2f}")


if __name__ == "__main__":
    main()
