"""Start-up and whole-charge cost against a minimal two-command Typer app.

Run: .venv/bin/python tests/bench/bench_cli.py [--runs N]

Prints a table of ratios measured side by side in one run, alternating the
commands so that machine noise hits both alike. Goals (issue 3):
``mpos --help`` ≤ 1.3× and a sandbox ``mpos charge 12.50 --json`` ≤ 2.0×
the minimal app's ``--help``. Not collected by pytest: targets live here,
never as timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        floor = Path(tmp) / "floor.py"
        floor.write_text(FLOOR_APP)
        env = {**os.environ, "MPOS_HOME": str(Path(tmp) / "home"), "NO_COLOR": "1"}
        cases = {
            "minimal typer --help": [python, str(minimal), "--help"],
            "mpos --help": [python, "-m", "mpos_cli", "--help"],
            "floor: typer charge+httpx": [python, str(floor), "charge", "12.50", "--json"],
            "mpos charge 12.50 --json": [python, "-m", "mpos_cli", "charge", "12.50", "--json"],
        }
        for argv in cases.values():  # warm the page cache and bytecode
            timed(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                samples[name].append(timed(argv, env))
    base = statistics.median(samples["minimal typer --help"])
    goals = {"mpos --help": 1.3, "mpos charge 12.50 --json": 2.0}
    print(f"{'case':<28} {'median ms':>10} {'ratio':>7} {'goal':>6}")
    for name, values in samples.items():
        median = statistics.median(values)
        goal = goals.get(name)
        verdict = "" if goal is None else ("ok" if median / base <= goal else "MISSED")
        print(f"{name:<28} {median * 1000:>10.1f} {median / base:>6.2f}x {('≤' + str(goal)) if goal else '':>6} {verdict}")


if __name__ == "__main__":
    main()
