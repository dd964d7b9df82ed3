"""Start-up and whole-charge cost against a minimal two-command Typer app.

Run: .venv/bin/python tests/bench/bench_cli.py [--runs N]

Prints a table of ratios measured side by side in one run, alternating the
commands so that machine noise hits both alike. Goals (issues 3 and 14),
against the minimal app's ``--help``: ``mpos --help`` ≤ 1.3×, a sandbox
``mpos charge 1.00 --json`` ≤ 2.0×, ``mpos journal list`` ≤ 1.5× (a
journal of 2,000 seeded sales over 30 days; the list shows today's). The
charge runs as a person's would: the background sandbox acquirer, started
by the warm-up run, is reused (``--in-process`` adds the acquirer started
inside each command, as before issue 14). Not collected by pytest: targets
live here, never as timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.timing import timed  # noqa: E402  (after the path)

MINIMAL_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


@app.command()
def bye(name: str) -> None:
    """Say bye."""
    typer.echo(f"bye {name}")


app()
'''

# The framework floor under ``mpos charge``: a Typer command with charge's
# own signature that imports httpx and asyncio (what any HTTP-and-Bluetooth
# charge must load) and does nothing else. Shown so the ratio can be read as
# "framework" and "our work".
FLOOR_APP = '''
from typing import Optional

import typer

app = typer.Typer()


@app.command()
def charge(
    amount: Optional[str] = typer.Argument(None),
    tip: Optional[str] = typer.Option(None, "--tip"),
    tip_percent: Optional[str] = typer.Option(None, "--tip-percent"),
    currency: Optional[str] = typer.Option(None, "--currency"),
    note: Optional[str] = typer.Option(None, "--note"),
    card: Optional[str] = typer.Option(None, "--card"),
    offline: Optional[str] = typer.Option(None, "--offline"),
    no_receipt: bool = typer.Option(False, "--no-receipt"),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    import asyncio

    import httpx

    typer.echo("{}")


@app.command()
def bye(name: str) -> None:
    typer.echo(f"bye {name}")


app()
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--in-process", action="store_true",
                        help="also time the charge with the acquirer inside the command (MPOS_SANDBOX_DAEMON=0)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        floor = Path(tmp) / "floor.py"
        floor.write_text(FLOOR_APP)
        env = {name: value for name, value in os.environ.items() if not name.startswith("MPOS_")}
        env.update(MPOS_HOME=str(Path(tmp) / "home"), NO_COLOR="1")
        mpos = [python, "-m", "mpos_cli"]
        cases = {
            "minimal typer --help": ([python, str(minimal), "--help"], env),
            "mpos --help": ([*mpos, "--help"], env),
            "mpos journal list": ([*mpos, "journal", "list"], env),
            "floor: typer charge+httpx": ([python, str(floor), "charge", "1.00", "--json"], env),
            "mpos charge 1.00 --json": ([*mpos, "charge", "1.00", "--json"], env),
        }
        if args.in_process:
            cases["charge, acquirer in process"] = ([*mpos, "charge", "1.00", "--json"],
                                                     {**env, "MPOS_SANDBOX_DAEMON": "0"})
        # As pip leaves an installed package: byte-compiled. Without this, a
        # shell with PYTHONDONTWRITEBYTECODE=1 compiles every module of ours
        # from source at each run (about 90 ms) and the table measures that.
        import compileall

        import mpos_cli
        import mpos_cli.drivers
        import mpos_cli.receipts

        for package in (mpos_cli, mpos_cli.drivers, mpos_cli.receipts):
            compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)
        timed([*mpos, "sandbox", "seed", "--count", "2000", "--days", "30"], env)
        try:
            for argv, case_env in cases.values():  # warm the page cache, the bytecode, the acquirer
                timed(argv, case_env)
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.runs):
                for name, (argv, case_env) in cases.items():
                    samples[name].append(timed(argv, case_env))
        finally:
            subprocess.run([*mpos, "sandbox", "stop"], env=env, capture_output=True)
    base = statistics.median(samples["minimal typer --help"])
    goals = {"mpos --help": 1.3, "mpos charge 1.00 --json": 2.0, "mpos journal list": 1.5}
    from importlib.metadata import version

    print(f"typer {version('typer')}, httpx {version('httpx')}, Python {sys.version.split()[0]}, "
          f"median of {args.runs} runs each")
    print(f"{'case':<28} {'median ms':>10} {'ratio':>7} {'goal':>6}")
    for name, values in samples.items():
        median = statistics.median(values)
        goal = goals.get(name)
        verdict = "" if goal is None else ("ok" if median / base <= goal else "MISSED")
        print(f"{name:<28} {median * 1000:>10.1f} {median / base:>6.2f}x {('≤' + str(goal)) if goal else '':>6} {verdict}")


if __name__ == "__main__":
    main()
