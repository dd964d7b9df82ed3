"""One retry and timeout policy for every call to the acquirer (stripe-python style).

A ``RetryPolicy`` says how long one call may take, how many attempts it
gets, what is worth another attempt (a pure decision) and how long to wait
between attempts (exponential backoff with jitter, through an injectable
``sleep`` so tests run instantly). It is passed per call: the ``Gateway``
methods take ``policy=``, and the flows (payments, recovery, offline
forwarding) ask ``policy.call`` instead of writing loops of their own.

Retrying is safe only because every money call carries the client's
reference as its idempotency key: the acquirer answers a repeat with its
saved answer (SPEC §7, §9).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from typing import Callable, TypeVar

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayUnreachable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # in all, the first included
    timeout: float | None = None  # seconds per request; None: the gateway's configured timeout
    base_delay: float = 0.1  # before the second attempt; doubled for each further one
    max_delay: float = 2.0
    # Failures worth another attempt (the transport never retries a read
    # timeout: the acquirer is slow, not gone, and the flow looks it up).
    retry_on: tuple[type[BaseException], ...] = (GatewayOutcomeUnknown,)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def should_retry(self, attempt: int, failure: BaseException) -> bool:
        """After failed attempt number ``attempt`` (1-based): try again? Pure."""
        return attempt < self.attempts and isinstance(failure, self.retry_on)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt``: exponential, capped,
        with jitter between half and all of it (so a fleet of terminals does not
        retry in step)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self.jitter())

    def call(self, attempt_once: Callable[[], T]) -> T:
        """``attempt_once()`` until it succeeds or the policy gives up; the last
        failure is raised."""
        attempt = 1
        while True:
            try:
                return attempt_once()
            except Exception as failure:
                if not self.should_retry(attempt, failure):
                    raise
            self.sleep(self.delay(attempt))
            attempt += 1

    def with_(self, **changes) -> "RetryPolicy":
        return replace(self, **changes)


# A call of a payment flow: transport failures and 5xx retried twice under
# the same key, 0.1 s then 0.2 s apart (with jitter).
DEFAULT = RetryPolicy()
# The start of every command: one short attempt, so a slow or silent acquirer
# never holds up a sale (SPEC §9).
BRIEF = RetryPolicy(attempts=1, timeout=3.0)
# ``mpos recover``: resolving one payment, retried with backoff while the
# network may come back; then the next run picks it up.
RECOVER = RetryPolicy(attempts=4, base_delay=0.5, max_delay=2.0, retry_on=(GatewayUnreachable, GatewayOutcomeUnknown))
# A refund or void whose answer was lost: resent once under its own reference.
RESEND = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)
