"""``mpos`` and ``python -m mpos_cli``: the process entry.

SIGINT is taken over before anything heavy is imported, so a Ctrl-C during
start-up is remembered (the command then stops at once, exit 130) instead of
ending in a traceback from the middle of an import.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    from mpos_cli.interrupts import Interrupts, Mode

    interrupts = Interrupts(mode=Mode.STARTING)
    try:
        signal.signal(signal.SIGINT, interrupts.handle)
    except (ValueError, OSError):  # not the main thread of the main interpreter
        pass
    from mpos_cli.cli import run

    code = run(sys.argv[1:], interrupts=interrupts)
    # The outcome is printed: a Ctrl-C from here on must not turn it into a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # CPython remembers a KeyboardInterrupt that ended any string exec (a
    # dataclass being built during an import, say) even if it was caught,
    # and under ``python -m`` then dies by SIGINT after a clean exit (the
    # exit status would be -2, not ours). Every string exec clears that
    # memory as it starts, so one harmless one does.
    exec("None")  # noqa: S102
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
    sys.exit(code)


if __name__ == "__main__":
    main()
