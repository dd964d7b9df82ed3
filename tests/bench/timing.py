"""What the benchmarks time: one process, from its start to its exit."""

from __future__ import annotations

import subprocess
import time


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds ``argv`` took, its output discarded; a failure stops the
    benchmark with the end of its stderr (a figure of a failed run means nothing)."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed
