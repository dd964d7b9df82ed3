"""Progress events: what a flow tells the person at the terminal while it works.

The flows (``payments``, ``offline``, ``recovery``, ``settlement``) report
through a ``notify`` callback; what they hand it is either one of the events
below, which the command layer renders as a live status line (spinner,
elapsed time, countdown) on a terminal, or a plain ``str``: a notice (one
line). Every event also has ``text``, the plain line written when stderr is
not a terminal. Rendering belongs to the command layer
(``mpos_cli.commands.feedback``); the core never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union


@dataclass(frozen=True)
class Step:
    """A stage of work under way; ``text`` is its plain line."""

    text: str

    def status(self, elapsed_s: float) -> str:
        """The live status line, ``elapsed_s`` after the step began."""
        return f"{self.text.rstrip('…')}… {elapsed_s:.0f} s"


@dataclass(frozen=True)
class Connecting(Step):
    text: str = "Connecting to the reader…"


@dataclass(frozen=True)
class PresentCard(Step):
    """The reader waits for the card, at most ``timeout_s``."""

    timeout_s: float = 60.0
    text: str = "Present card on the reader (Ctrl-C to cancel)"

    def status(self, elapsed_s: float) -> str:
        left = max(0, round(self.timeout_s - elapsed_s))
        return f"present card, {left} s left, Ctrl-C to cancel"


@dataclass(frozen=True)
class EnterPin(Step):
    """The card asked for online PIN: the customer types it on the reader."""

    text: str = "customer: enter PIN on the reader"


@dataclass(frozen=True)
class Authorising(Step):
    text: str = "Authorising…"


@dataclass(frozen=True)
class Finishing(Step):
    """Ctrl-C after the authorisation left: the payment is being finished."""

    text: str = "finishing the payment, please wait"


Event = Union[Step, str]
Notify = Callable[[Event], None]


def quiet(_: Event) -> None:
    return None
