"""The whole CLI at 100,000 payments, side by side with 100 (issues 6 and 7).

Run: .venv/bin/python tests/bench/bench_scale.py [--records 100000] [--days 1095] [--runs 7]

Two homes are seeded with ``mpos sandbox seed`` (journal and sandbox ledger
together), then ``mpos charge`` is timed alternately in each. The report is
compared with ``json.loads`` of a file holding the same number of records.
Default spread: three years, the "busy seller within a few years" of the
issue. Prints a table; goals are in the table, never in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.timing import timed  # noqa: E402  (after the path)


def run(args: list[str], home: Path) -> float:
    env = {**os.environ, "MPOS_HOME": str(home), "NO_COLOR": "1"}
    return timed([sys.executable, "-m", "mpos_cli", *args], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        run(["sandbox", "seed", "--count", "100", "--days", str(args.days)], small)
        seed_s = run(["sandbox", "seed", "--count", str(args.records), "--days", str(args.days)], large)
        for home in (small, large):  # warm
            run(["charge", "1.00", "--json"], home)
        charges: dict[str, list[float]] = {"small": [], "large": []}
        for _ in range(args.runs):
            charges["small"].append(run(["charge", "12.50", "--json"], small))
            charges["large"].append(run(["charge", "12.50", "--json"], large))
        everything = ["--from", "2000-01-01", "--to", "2099-12-31"]
        report_s = statistics.median(run(["report", *everything, "--json"], large) for _ in range(3))
        # Baseline: json.loads of a file with as many SPEC §5 records, in a fresh process.
        records = Path(tmp) / "records.json"
        env = {**os.environ, "MPOS_HOME": str(large)}
        dump = subprocess.run(
            [sys.executable, "-m", "mpos_cli", "journal", "list", *everything, "--json"], env=env, capture_output=True
        )
        records.write_bytes(dump.stdout)
        count = len(json.loads(dump.stdout))
        parse_code = f"import json; json.loads(open({str(records)!r}, 'rb').read())"
        parse_s = statistics.median(timed([sys.executable, "-c", parse_code]) for _ in range(3))
        settle_s = run(["settle", "--json"], large)
    small_ms = statistics.median(charges["small"]) * 1000
    large_ms = statistics.median(charges["large"]) * 1000
    print(f"{'measure':<44} {'value':>12} {'ratio':>7} {'goal':>7}")
    print(f"{'charge, 100 in journal (median ms)':<44} {small_ms:>12.1f}")
    print(f"{f'charge, {args.records:,} in journal (median ms)':<44} {large_ms:>12.1f} {large_ms / small_ms:>6.2f}x {'≤1.25':>7}")
    print(f"{f'json.loads of {count:,} records (s)':<44} {parse_s:>12.2f}")
    print(f"{f'mpos report over {count:,} (s)':<44} {report_s:>12.2f} {report_s / parse_s:>6.2f}x {'≤3':>7}")
    print(f"{f'mpos sandbox seed --count {args.records:,} (s)':<44} {seed_s:>12.2f} {'':>7} {'<60 s':>7}")
    print(f"{f'mpos settle over {count:,} (s)':<44} {settle_s:>12.2f}")


if __name__ == "__main__":
    main()
