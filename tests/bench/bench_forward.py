"""Forwarding stored offline payments vs a bare httpx loop sending the same requests.

Run: .venv/bin/python tests/bench/bench_forward.py [--count 1000] [--rounds 3]

1. ``--count`` payments are taken with the simulated reader while the
   acquirer is unreachable and stored offline (one home, built once).
2. Each round starts two fresh ``mpos sandbox serve`` processes on loopback
   (fresh ledgers, so nothing is a replay; on /dev/shm by default, so the
   acquirer's own fsyncs do not drown the client's cost) and, in
   alternating order:
   - mpos: ``offline.forward`` on a fresh copy of that home (journal
     updates, in-flight claims, result decoding and all);
   - bare: an ``httpx.Client`` loop POSTing the very same request bodies
     with their ``Idempotency-Key`` and bearer key, and parsing the JSON.
3. Prints a table of the times and the ratio mpos / bare. Goal: ≤ 1.3×.

Not collected by pytest: targets live here, never as timed assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.helpers.sandbox import KEY, ServedSandbox, free_port  # noqa: E402  (after the path)

GOAL = 1.3


def environ_for(home: Path, url: str) -> dict[str, str]:
    return dict(
        {k: v for k, v in os.environ.items() if not k.startswith("MPOS_")},
        MPOS_HOME=str(home), MPOS_GATEWAY_URL=url, MPOS_GATEWAY_KEY=KEY, NO_COLOR="1",
    )


def build_queue(home: Path, count: int) -> None:
    from mpos_cli.config import set_value
    from mpos_cli.env import Environment
    from mpos_cli.money import currency
    from mpos_cli.payments import Payments, SaleRequest
    from mpos_cli.pos import PointOfSale

    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens: every payment is stored offline
    env = Environment(environ=environ_for(home, dead))
    set_value(env.config_path, "offline.max_count", str(count + 10))
    set_value(env.config_path, "offline.max_total", "1000000.00")
    env = Environment(environ=environ_for(home, dead))
    eur = currency("EUR")
    with PointOfSale(env) as pos:
        payments = Payments(pos)
        for index in range(count):
            tx = payments.charge(SaleRequest(110 + 100 * (index % 40), 0, eur))  # cents .10: approved
            assert tx.status == "offline", tx


def mpos_forward(home: Path, url: str, count: int) -> float:
    from mpos_cli import offline
    from mpos_cli.env import Environment
    from mpos_cli.pos import PointOfSale

    env = Environment(environ=environ_for(home, url))
    with PointOfSale(env) as pos:
        pos.gateway.sandbox  # connect and ask /v1/health outside the timing, as the bare loop's warm-up does
        started = time.perf_counter()
        done = offline.forward(pos)
        elapsed = time.perf_counter() - started
    assert len(done) == count and all(tx.status == "approved" for tx in done), "not all approved"
    return elapsed


def request_bodies(home: Path) -> list[dict]:
    """What forwarding sends, built with the same code (one body per stored payment)."""
    from mpos_cli import offline
    from mpos_cli.gateway.base import AuthorisationRequest
    from mpos_cli.journal import Journal

    journal = Journal(home / "journal")
    try:
        bodies = []
        for tx in offline.summary(journal).transactions:
            request = AuthorisationRequest(
                reference=tx.reference, amount_minor=tx.amount_minor, tip_minor=tx.tip_minor, currency=tx.currency,
                entry_mode=tx.card.entry_mode, cvm=tx.card.cvm, masked_pan=tx.card.masked_pan,
                scheme=tx.card.scheme, encrypted_card_data=tx.stored_card_data or "", emv=dict(tx.emv_out),
                deferred=True, captured_at=tx.created_at.isoformat(), merchant_id=tx.merchant_id,
                terminal_id=tx.terminal_id,
            )
            bodies.append({k: v for k, v in asdict(request).items() if v is not None})
        return bodies
    finally:
        journal.close()


def bare_loop(bodies: list[dict], url: str) -> float:
    import httpx

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=15.0,
                      trust_env=False) as client:
        client.get("/v1/health")
        started = time.perf_counter()
        for body in bodies:
            answer = client.post("/v1/authorisations", json=body, headers={"Idempotency-Key": body["reference"]})
            answer.raise_for_status()
            assert answer.json()["response_code"] == "00"
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--acquirer-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
        help="where the sandbox ledgers live (default /dev/shm: a fast acquirer, so the client's own cost shows)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mpos-bench-forward-") as tmp:
        tmp = Path(tmp)
        queue_home = tmp / "queue"
        print(f"storing {args.count} payments offline…", file=sys.stderr)
        started = time.perf_counter()
        build_queue(queue_home, args.count)
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        bodies = request_bodies(queue_home)
        assert len(bodies) == args.count

        acquirer_root = Path(tempfile.mkdtemp(prefix="mpos-bench-acq-", dir=args.acquirer_dir))
        rows = []
        for round_no in range(args.rounds):
            home = tmp / f"round{round_no}"
            shutil.copytree(queue_home, home)
            servers = [ServedSandbox(acquirer_root / f"mpos-{round_no}").start(),
                       ServedSandbox(acquirer_root / f"bare-{round_no}").start()]
            try:
                order = ["mpos", "bare"] if round_no % 2 == 0 else ["bare", "mpos"]
                times = {}
                for which in order:
                    if which == "mpos":
                        times["mpos"] = mpos_forward(home, servers[0].url, args.count)
                    else:
                        times["bare"] = bare_loop(bodies, servers[1].url)
            finally:
                for server in servers:
                    server.stop()
            rows.append((times["mpos"], times["bare"]))
        shutil.rmtree(acquirer_root, ignore_errors=True)

    print(f"\nforwarding {args.count} stored payments to the loopback sandbox (mpos sandbox serve)\n")
    print(f"{'round':>5}  {'mpos forward':>12}  {'bare httpx':>10}  {'ratio':>6}")
    for index, (mine, bare) in enumerate(rows, 1):
        print(f"{index:>5}  {mine:>11.2f}s  {bare:>9.2f}s  {mine / bare:>5.2f}x")
    ratio = statistics.median(mine / bare for mine, bare in rows)
    per = statistics.median(mine for mine, _ in rows) / args.count * 1000
    print(f"\nmedian ratio {ratio:.2f}x (goal <= {GOAL}x); mpos {per:.2f} ms per payment "
          f"{'OK' if ratio <= GOAL else 'ABOVE GOAL'}")


if __name__ == "__main__":
    main()
