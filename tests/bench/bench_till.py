"""The till's sale-to-sale time against one ``mpos charge`` per sale.

Run: .venv/bin/python tests/bench/bench_till.py [--sales N]

Both sell the same catalogue item by card (simulated reader, embedded
sandbox acquirer, journal in a fresh temporary home), alternating nothing:
the till keeps its point of sale open (engine of ``mpos till``, one reader
connection and one acquirer connection for all sales), ``mpos charge
--item`` starts a process per sale. Printed side by side:

- from pressing pay to "Present card on the reader": target ≤ 50 ms (issue 15);
- a sale from pay to outcome, and how much of it goes from "Present card"
  to the outcome (the card, the acquirer, and the journal's writes between
  them, which every sale must make): target, the larger part;
- one ``mpos charge`` per sale, and the ratio.

Not collected by pytest: targets live here, never as timed assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PRESENT_CARD = "Present card on the reader"


def till_sales(home: str, count: int) -> list[tuple[float, float]]:
    """(pay → present card, pay → outcome) in seconds, per sale."""
    from mpos_cli.catalogue import Basket, Catalogue
    from mpos_cli.env import Environment
    from mpos_cli.money import currency
    from mpos_cli.payments import SaleRequest
    from mpos_cli.till.engine import Progress, TillEngine

    env = Environment(environ=dict(os.environ, MPOS_HOME=home))
    seen: list[Progress] = []
    lock = threading.Lock()

    def on_event(event):
        if isinstance(event, Progress):
            with lock:
                seen.append(event)

    engine = TillEngine(env, on_event)
    try:
        engine.start().result(60)
        with Catalogue.of(env) as catalogue:
            mat = catalogue.get("Mat")
        timings = []
        for _ in range(count):
            basket = Basket(currency("EUR"))
            basket.add_item(mat)
            request = SaleRequest(amount_minor=basket.total_minor, tip_minor=0, currency=basket.currency,
                                  items=basket.items())
            with lock:
                seen.clear()
            started = time.perf_counter()
            outcome = engine.pay(request).result(60)
            ended = time.perf_counter()
            assert outcome.status == "approved", outcome
            with lock:
                present = next(event.at for event in seen if event.text == PRESENT_CARD)
            timings.append((present - started, ended - started))
        return timings
    finally:
        engine.close()


def charge_sales(home: str, count: int) -> list[float]:
    env = dict(os.environ, MPOS_HOME=home)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "mpos_cli", "charge", "--item", "Mat", "--json"],
                                env=env, capture_output=True, text=True)
        timings.append(time.perf_counter() - started)
        assert result.returncode == 0, result.stderr
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sales", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as till_home, tempfile.TemporaryDirectory() as charge_home:
        for home in (till_home, charge_home):
            subprocess.run([sys.executable, "-m", "mpos_cli", "items", "add", "Mat", "3"], check=True,
                           env=dict(os.environ, MPOS_HOME=home), capture_output=True)
        till = till_sales(till_home, args.sales)
        charge = charge_sales(charge_home, max(5, args.sales // 3))
    present = statistics.median(t[0] for t in till)
    sale = statistics.median(t[1] for t in till)
    card_and_acquirer = statistics.median((t[1] - t[0]) / t[1] for t in till)
    per_charge = statistics.median(charge)
    ms = lambda seconds: f"{seconds * 1000:8.1f} ms"  # noqa: E731
    print(f"{'measure':<52}{'median':>11}  target")
    print(f"{'till: pay -> Present card on the reader':<52}{ms(present)}  <= 50 ms ({'ok' if present <= 0.05 else 'MISSED'})")
    print(f"{'till: one sale, pay -> outcome':<52}{ms(sale)}")
    print(f"{'till: share of a sale after Present card':<52}{card_and_acquirer:10.0%}   the larger part")
    print(f"{'mpos charge --item, one process per sale':<52}{ms(per_charge)}")
    print(f"{'ratio: mpos charge per sale / till sale':<52}{per_charge / sale:9.1f}x")
    print(f"({len(till)} till sales, {len(charge)} charges)")


if __name__ == "__main__":
    main()
