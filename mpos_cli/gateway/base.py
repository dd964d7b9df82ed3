"""What mpos asks of an acquirer, independent of how it is reached.

Every call that changes money carries the client's ``reference`` as its
idempotency key: the same reference with the same body is answered with the
saved answer, so a retry can never charge twice.

Errors: ``GatewayUnreachable`` when the request certainly never arrived,
``GatewayOutcomeUnknown`` when it may have (timeout, reset after send,
malformed answer), ``GatewayRejected`` when the acquirer refused the request.

Every call that reaches the acquirer takes ``policy``: the one retry and
timeout policy (``mpos_cli.gateway.retry``) for that call; None is the
adapter's own default. Start-of-command recovery passes ``retry.BRIEF``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from mpos_cli.closing import ClosedOnExit

if TYPE_CHECKING:
    from mpos_cli.gateway.retry import RetryPolicy


@dataclass(frozen=True)
class AuthorisationRequest:
    reference: str  # client's reference = idempotency key
    amount_minor: int  # without tip
    tip_minor: int
    currency: str  # ISO 4217 alpha
    entry_mode: str
    cvm: str
    masked_pan: str
    scheme: str
    encrypted_card_data: str
    emv: dict[str, str] = field(default_factory=dict)
    encrypted_pin_block: str | None = None
    deferred: bool = False  # stored offline and forwarded later
    captured_at: str | None = None  # ISO 8601, for deferred authorisations
    merchant_id: str | None = None
    terminal_id: str | None = None


@dataclass(frozen=True)
class AuthorisationResult:
    reference: str
    acquirer_id: str
    status: str  # approved | declined | reversed | refunded | partially_refunded | settled
    response_code: str  # ISO 8583
    auth_code: str | None
    emv: dict[str, str] = field(default_factory=dict)  # 8A, 91 (ARPC), 71/72 scripts
    message: str | None = None
    # What the acquirer holds for the reference (filled by lookups and answers
    # alike; None when an adapter cannot tell).
    kind: str | None = None  # sale | refund | void
    amount_minor: int | None = None
    tip_minor: int | None = None
    currency: str | None = None
    refunded_minor: int | None = None
    batch_reference: str | None = None

    @property
    def approved(self) -> bool:
        return self.response_code == "00"


@dataclass(frozen=True)
class RefundRequest:
    reference: str  # the refund's own reference (idempotency key)
    original_reference: str
    amount_minor: int
    currency: str
    captured_at: str | None = None  # ISO 8601; the acquirer's clock when absent


@dataclass(frozen=True)
class SeedSale:
    """An approved sale written straight into a sandbox ledger (``mpos sandbox seed``)."""

    reference: str
    amount_minor: int
    tip_minor: int
    currency: str
    captured_at: str  # ISO 8601 with offset: its date is the business date
    masked_pan: str  # first 6 + last 4, never a full PAN
    scheme: str
    entry_mode: str = "contactless"
    cvm: str = "none"
    auth_code: str | None = None  # the acquirer picks one when None


@dataclass(frozen=True)
class BatchTotals:
    """Per currency: sales_count, sales_minor, refunds_count, refunds_minor, net_minor."""

    batch_id: str
    totals: dict[str, dict[str, int]]
    references: list[str] = field(default_factory=list)


class Gateway(ClosedOnExit, ABC):
    sandbox: bool = False

    @abstractmethod
    def authorise(self, request: AuthorisationRequest, *, policy: "RetryPolicy | None" = None) -> AuthorisationResult: ...

    @abstractmethod
    def lookup(self, reference: str, *, policy: "RetryPolicy | None" = None) -> AuthorisationResult | None:
        """The acquirer's record for a reference, or None if it never saw it."""

    @abstractmethod
    def reverse(self, reference: str, *, reason: str, policy: "RetryPolicy | None" = None) -> AuthorisationResult:
        """Reverse an authorisation (ISO 8583 0400/0420 semantics): idempotent,
        harmless for a reference the acquirer never saw."""

    @abstractmethod
    def refund(self, request: RefundRequest, *, policy: "RetryPolicy | None" = None) -> AuthorisationResult: ...

    @abstractmethod
    def void(
        self, reference: str, original_reference: str, *, policy: "RetryPolicy | None" = None
    ) -> AuthorisationResult: ...

    @abstractmethod
    def close_batch(self, batch_reference: str, business_date: str) -> BatchTotals:
        """Close the open batch (idempotent per ``batch_reference``)."""

    @abstractmethod
    def ledger(self) -> list[dict[str, Any]]: ...

    def seed(self, sales: "Sequence[SeedSale]") -> list[AuthorisationResult]:
        """Write approved sales straight into a sandbox ledger; real acquirers refuse."""
        from mpos_cli.errors import GatewayRejected

        raise GatewayRejected("this acquirer does not accept seeded sales", hint="seed the sandbox acquirer only")

    def health(self) -> dict[str, Any]:
        """What the acquirer says about itself (at least ``sandbox``: bool)."""
        return {"sandbox": self.sandbox}

    def close(self) -> None:
        return None
