"""The journal at 100,000 payments, measured side by side in one run.

Run: .venv/bin/python tests/bench/bench_journal.py [--records 100000] [--rounds 200]

Prints a table of ratios. Goals (issue: a journal that stays fast and safe
at 100,000 payments):

- an add+update cycle (what a charge does: intent, then approved) with
  100,000 records in the journal vs with 100: ≤ 1.25×;
- iterating and summing 100,000 records vs ``json.loads`` of a
  100,000-record JSON file (and summing): ≤ 3×;
- ``add_many`` of 100,000: < 60 s.

It also prices the high-water mark (``mpos_cli.journal.mark``: one
``pread`` and one ``pwrite`` after each append's fsync, one small read when
a month is opened): the same cycles and fresh-journal lookups with the mark
switched off (the journal as it was before it) and on, interleaved, side by
side, and the cost per write.

For comparison it also times a few inserts into stock tinydb (JSONStorage)
holding 100,000 records. Not collected by pytest: targets live here, never
as timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mpos_cli.journal import Journal  # noqa: E402
from mpos_cli.transaction import Card, Stage, Transaction, TxStatus, TxType, new_transaction_id  # noqa: E402

TODAY = date(2026, 11, 24)
CARD = Card("visa", "476173******0010", "contactless", "none", "A0000000031010", "VISA CREDIT", "0000000000", "E800", "0001", "2912")
EMV = {"4F": "A0000000031010", "95": "0000000000", "9A": "261124", "9F26": "1122334455667788", "9F36": "0001"}


def make(day: date, i: int, status: TxStatus = TxStatus.APPROVED, stage: Stage = Stage.DONE) -> Transaction:
    business = day.isoformat()
    moment = datetime(day.year, day.month, day.day, 9, tzinfo=timezone.utc) + timedelta(seconds=i % 30000)
    return Transaction(
        id=new_transaction_id(business), type=TxType.SALE, status=status, stage=stage,
        amount_minor=100 + i % 9000, tip_minor=i % 3 * 50, currency="EUR", created_at=moment, updated_at=moment,
        business_date=business, sandbox=True, card=CARD, response_code="00", auth_code="A1B2C3",
        merchant_id="M-0001", terminal_id="T-0001", emv_out=dict(EMV), acquirer_id=f"acq-{i}",
    )


def seed_records(count: int, days: int) -> list[Transaction]:
    """``count`` approved sales spread over ``days`` days ending today."""
    return [make(TODAY - timedelta(days=i % days), i) for i in range(count)]


def cycle(journal: Journal, i: int) -> float:
    tx = make(TODAY, i, TxStatus.PENDING, Stage.INTENT)
    start = time.perf_counter()
    journal.add(tx)
    journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
    return time.perf_counter() - start


@contextmanager
def marks_off():
    """The journal as it was before the high-water mark: none written, none read."""
    from mpos_cli.journal import mark

    saved = mark.MarkFile.advance, mark.read
    mark.MarkFile.advance = lambda self, **_: None
    mark.read = lambda ops, directory, month: mark.MarkReading(None, False)
    try:
        yield
    finally:
        mark.MarkFile.advance, mark.read = saved


def median_of(fn, runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def row(name: str, small: str, large: str, ratio: float | None, goal: str, ok: bool | None) -> None:
    r = f"{ratio:.2f}×" if ratio is not None else ""
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    print(f"{name:<44} {small:>12} {large:>12} {r:>8} {goal:>9} {verdict:>6}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--stock-inserts", type=int, default=3, help="0 skips stock tinydb")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    n = args.records
    base = Path(tempfile.mkdtemp(prefix="mpos-bench-journal-"))
    print(f"journal benchmark: {n:,} records vs {args.small}, {args.rounds} rounds; in {base}")
    print(f"python {sys.version.split()[0]}, {os.uname().sysname} {os.uname().release}\n")
    try:
        # -- seeding -----------------------------------------------------------
        small_dir, large_dir, spread_dir = base / "small", base / "large", base / "spread"
        with Journal(small_dir) as journal:
            journal.add_many(seed_records(args.small, 24))
        records = seed_records(n, 24)  # all in this month: the worst case for a write
        gc.collect()
        start = time.perf_counter()
        with Journal(large_dir) as journal:
            journal.add_many(records)
        seed_one_month = time.perf_counter() - start
        spread = seed_records(n, 365)
        start = time.perf_counter()
        with Journal(spread_dir) as journal:
            journal.add_many(spread)
        seed_year = time.perf_counter() - start
        del spread

        # -- add + update cycle, warm (each journal has loaded its month) ------
        small, large, year = Journal(small_dir), Journal(large_dir), Journal(spread_dir)
        cycle(small, 0), cycle(large, 0), cycle(year, 0)
        times: dict[str, list[float]] = {"small": [], "large": [], "year": []}
        for i in range(1, args.rounds + 1):  # alternate, so noise hits all alike
            times["small"].append(cycle(small, i))
            times["large"].append(cycle(large, i))
            times["year"].append(cycle(year, i))
        warm_small = statistics.median(times["small"])
        warm_large = statistics.median(times["large"])
        warm_year = statistics.median(times["year"])

        # -- the high-water mark: off vs on, interleaved -----------------------
        mark_times: dict[str, list[float]] = {"off": [], "on": []}
        for i in range(args.rounds):
            for setting in ("off", "on") if i % 2 else ("on", "off"):  # neither always goes first
                if setting == "off":
                    with marks_off():
                        mark_times["off"].append(cycle(large, 10_000 + i))
                else:
                    mark_times["on"].append(cycle(large, 20_000 + i))
        mark_off = statistics.median(mark_times["off"])
        mark_on = statistics.median(mark_times["on"])
        small.close(), large.close(), year.close()

        # Opening a month reads its mark once: priced on the small journal,
        # where loading the month does not drown it.
        with Journal(small_dir) as journal:
            some_small = next(iter(journal.iter())).id

        def fresh_get(marks: bool) -> float:
            start = time.perf_counter()
            if marks:
                with Journal(small_dir) as journal:
                    journal.get(some_small)
            else:
                with marks_off(), Journal(small_dir) as journal:
                    journal.get(some_small)
            return time.perf_counter() - start

        opens = [(fresh_get(False), fresh_get(True)) for _ in range(50)]

        # The mark's own work, without the fsync whose noise dwarfs it: the
        # pread and pwrite one append adds, timed alone.
        from mpos_cli.journal.fileops import FileOps
        from mpos_cli.journal.mark import MarkFile

        marker = MarkFile(FileOps(), base, "2026-11")
        line = b"0123abcd " + b"x" * 2000 + b"\n"
        calls = 5000
        start = time.perf_counter()
        for i in range(calls):
            marker.advance(first=1, segment=1, start=i * len(line), end=(i + 1) * len(line), line=line)
        mark_alone = (time.perf_counter() - start) / calls
        marker.close()
        open_off = statistics.median(a for a, _ in opens)
        open_on = statistics.median(b for _, b in opens)

        # -- the first write of a process: load the month, then the cycle ------
        def cold(folder: Path) -> float:
            journal = Journal(folder)
            start = time.perf_counter()
            cycle(journal, 7)
            elapsed = time.perf_counter() - start
            journal.close()
            return elapsed

        cold_small = median_of(lambda: cold(small_dir), 5)
        cold_large = median_of(lambda: cold(large_dir), 3)
        cold_year = median_of(lambda: cold(spread_dir), 3)

        # -- iterate and sum vs json.loads ------------------------------------
        plain = base / "plain.json"
        plain.write_text(json.dumps([tx.to_record() for tx in records]))
        del records
        gc.collect()

        def iterate() -> float:
            start = time.perf_counter()
            with Journal(large_dir) as journal:
                total = sum(tx.total_minor for tx in journal.iter())
            assert total > 0
            return time.perf_counter() - start

        def loads() -> float:
            start = time.perf_counter()
            total = sum(r["amount_minor"] + r["tip_minor"] for r in json.loads(plain.read_bytes()))
            assert total > 0
            return time.perf_counter() - start

        iterations = [(iterate(), loads()) for _ in range(3)]
        t_iter = statistics.median(a for a, _ in iterations)
        t_loads = statistics.median(b for _, b in iterations)

        def year_iter() -> float:
            start = time.perf_counter()
            with Journal(spread_dir) as journal:
                count = sum(1 for _ in journal.iter("2026-11-01", "2026-11-30"))
            assert count > 0
            return time.perf_counter() - start

        t_month_of_year = median_of(year_iter, 3)

        # -- open transactions at 100,000 --------------------------------------
        def open_tx(folder: Path, drop_index: bool) -> float:
            if drop_index:
                (folder / "open.idx").unlink(missing_ok=True)
            start = time.perf_counter()
            with Journal(folder) as journal:
                journal.open_transactions()
            return time.perf_counter() - start

        open_small = median_of(lambda: open_tx(small_dir, False), 5)
        open_large = median_of(lambda: open_tx(large_dir, False), 5)
        open_rebuild = open_tx(large_dir, True)

        # -- get one id at 100,000 (a fresh process: opens one month) ----------
        with Journal(spread_dir) as journal:
            some_id = next(iter(journal.iter("2026-11-01", "2026-11-30"))).id

        def get_one() -> float:
            start = time.perf_counter()
            with Journal(spread_dir) as journal:
                journal.get(some_id)
            return time.perf_counter() - start

        t_get = median_of(get_one, 3)

        # -- stock tinydb for comparison ---------------------------------------
        stock = None
        if args.stock_inserts:
            from tinydb import TinyDB

            path = base / "stock.json"
            path.write_text(json.dumps({"_default": {str(i + 1): r for i, r in enumerate(json.loads(plain.read_bytes()))}}))
            db = TinyDB(path)
            start = time.perf_counter()
            for i in range(args.stock_inserts):
                db.insert(make(TODAY, i).to_record())
            stock = (time.perf_counter() - start) / args.stock_inserts
            db.close()

        # -- the table ---------------------------------------------------------
        print(f"{'measurement':<44} {args.small:>12,} {n:>12,} {'ratio':>8} {'goal':>9} {'':>6}")
        print("-" * 96)
        ratio = warm_large / warm_small
        row("add+update cycle (one month holds them all)", ms(warm_small), ms(warm_large), ratio, "≤ 1.25×", ratio <= 1.25)
        ratio = warm_year / warm_small
        row("add+update cycle (spread over a year)", ms(warm_small), ms(warm_year), ratio, "≤ 1.25×", ratio <= 1.25)
        row("first cycle of a process (loads the month)", ms(cold_small), ms(cold_large), cold_large / cold_small, "", None)
        row("  … spread over a year (~8,300 a month)", ms(cold_small), ms(cold_year), cold_year / cold_small, "", None)
        ratio = t_iter / t_loads
        row("iterate+sum all vs json.loads+sum", ms(t_loads), ms(t_iter), ratio, "≤ 3×", ratio <= 3)
        row("iterate one month of a year-long journal", "", ms(t_month_of_year), None, "", None)
        row("open_transactions (index current)", ms(open_small), ms(open_large), open_large / open_small, "", None)
        row("open_transactions (index rebuilt)", "", ms(open_rebuild), None, "", None)
        row("get one id, fresh journal, year-long", "", ms(t_get), None, "", None)
        row("add_many (one month)", "", ms(seed_one_month), None, "< 60 s", seed_one_month < 60)
        row("add_many (spread over a year, 12 months)", "", ms(seed_year), None, "< 60 s", seed_year < 60)
        print(f"\n{'high-water mark':<44} {'off':>12} {'on':>12} {'ratio':>8}")
        print("-" * 96)
        row(f"add+update cycle (two writes), {n:,} held", ms(mark_off), ms(mark_on), mark_on / mark_off, "", None)
        row(f"get one id, fresh {args.small}-record journal", ms(open_off), ms(open_on), open_on / open_off, "", None)
        print(f"  cost per write, from the cycles: {(mark_on - mark_off) / 2 * 1e6:+.1f} µs "
              f"({(mark_on - mark_off) / mark_off * 100:+.1f}%; within the fsync's noise)")
        print(f"  cost per write, the mark's pread+pwrite alone: {mark_alone * 1e6:.1f} µs "
              f"({mark_alone / (mark_off / 2) * 100:.2f}% of a write)")
        print()
        if stock is not None:
            row("stock tinydb JSONStorage: one insert", "", ms(stock), stock / warm_large * 2, "", None)
            print("  (ratio on that line: one stock insert vs one of our writes at the same size)")
    finally:
        if args.keep:
            print(f"\nkept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
