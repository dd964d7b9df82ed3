"""The transaction, its states, and the transitions allowed between them.

``status`` is what SPEC §5 shows the world. ``stage`` is the flow's own
bookmark for recovery: where an unfinished payment stopped, so that the next
run knows whether the acquirer may have seen it (SPEC §9).

The sale lifecycle is one state machine over both: ``TRANSITIONS`` (status)
and ``STAGE_TRANSITIONS`` (stage) below are the only changes the journal
accepts (``change_allowed``, checked where the journal writes). The sale
flow (``payments``) moves a payment forward one stage per step; recovery is
its mirror image, taking an open stage to ``done``:

    intent ──card read──▶ sent ──approved──▶ authorised ──card confirms──▶ done
      │                    │ ╲──unreachable──▶ stored ──forwarded──▶ done
      │                    │  ╲──unknown / card refuses──▶ reversal_due ──reversed──▶ done
      └──cancelled, failed, declined by the card────────────────────────────────────▶ done

A QR payment (SPEC §10) never meets a reader or an acquirer: it is journaled
once, complete, as pending at ``awaiting_transfer``, and goes to ``done``
approved (the bank statement shows the credit) or cancelled (voided, expired).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Iterable

from mpos_cli.money import Currency, vat_included


class TxType(StrEnum):
    SALE = "sale"
    REFUND = "refund"
    VOID = "void"


class TxStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    FAILED = "failed"
    OFFLINE = "offline"
    VOIDED = "voided"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Stage(StrEnum):
    """Where the flow stands; only meaningful while the outcome is open."""

    INTENT = "intent"  # journaled, nothing sent: safe to cancel
    SENT = "sent"  # the request may have left: the acquirer may hold it
    AUTHORISED = "authorised"  # the acquirer approved; the card has not confirmed yet
    REVERSAL_DUE = "reversal_due"  # must be reversed at the acquirer, retried until acknowledged
    STORED = "stored"  # accepted offline, waiting to be forwarded
    AWAITING_TRANSFER = "awaiting_transfer"  # a QR code shown; paid once the bank statement says so
    DONE = "done"


S = TxStatus
# One table of every allowed status change; anything else is a bug or a
# corrupt journal, and ``Transaction.moved_to`` refuses it.
TRANSITIONS: dict[TxStatus, frozenset[TxStatus]] = {
    S.PENDING: frozenset({S.PENDING, S.APPROVED, S.DECLINED, S.CANCELLED, S.FAILED, S.OFFLINE}),
    S.OFFLINE: frozenset({S.OFFLINE, S.APPROVED, S.DECLINED, S.FAILED}),
    S.APPROVED: frozenset({S.VOIDED, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.VOIDED: frozenset(),
    S.REFUNDED: frozenset(),
}

G = Stage
# Every allowed stage change. A stage only moves forward: nothing that may
# have reached the acquirer goes back to ``intent``, and ``done`` is final
# (what follows a closed payment, a refund or a void, changes its status).
STAGE_TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    G.INTENT: frozenset({G.INTENT, G.SENT, G.DONE}),
    G.SENT: frozenset({G.SENT, G.AUTHORISED, G.STORED, G.REVERSAL_DUE, G.DONE}),
    G.AUTHORISED: frozenset({G.AUTHORISED, G.REVERSAL_DUE, G.DONE}),
    G.REVERSAL_DUE: frozenset({G.REVERSAL_DUE, G.DONE}),
    G.STORED: frozenset({G.STORED, G.DONE}),
    G.AWAITING_TRANSFER: frozenset({G.AWAITING_TRANSFER, G.DONE}),
    G.DONE: frozenset({G.DONE}),
}

# Statuses in which a sale counts as money taken (for settlement and reports).
CAPTURED = frozenset({S.APPROVED, S.PARTIALLY_REFUNDED, S.REFUNDED})


class InvalidTransition(ValueError):
    pass


def transition_allowed(old: TxStatus, new: TxStatus) -> bool:
    """Keeping the status while the stage or details change is always allowed."""
    return old == new or new in TRANSITIONS[old]


def change_allowed(old_status: TxStatus, old_stage: Stage, new_status: TxStatus, new_stage: Stage) -> bool:
    """May the journal replace a record in (old_status, old_stage) by one in
    (new_status, new_stage)? Both tables must allow it."""
    return transition_allowed(old_status, new_status) and new_stage in STAGE_TRANSITIONS[old_stage]


def new_transaction_id(business_date: str) -> str:
    """``20261124-K3Q9FX``: the business date first, so ids sort by day and
    name their journal partition; six base-32 characters (30 bits) after it."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
    suffix = "".join(secrets.choice(alphabet) for _ in range(6))
    return f"{business_date.replace('-', '')}-{suffix}"


@dataclass(frozen=True)
class Card:
    """What may be kept of a card: never the PAN, track data or PIN (SPEC §8)."""

    scheme: str
    masked_pan: str  # first 6 + last 4 at most
    entry_mode: str  # contactless | chip | swipe
    cvm: str  # none | online_pin | offline_pin | signature
    aid: str | None = None
    application_label: str | None = None
    tvr: str | None = None
    tsi: str | None = None
    atc: str | None = None
    expiry: str | None = None  # YYMM; kept for offline card rules, printed on no receipt


@dataclass(frozen=True)
class LineItem:
    """One line of a sale: what was sold, how many, at what unit price (SPEC §5
    ``items``). ``vat_basis_points`` is the VAT rate included in the price, in
    hundredths of a percent (2000 = 20 %, 550 = 5.5 %), or None when not set."""

    name: str
    quantity: int
    unit_minor: int
    vat_basis_points: int | None = None

    @property
    def total_minor(self) -> int:
        return self.quantity * self.unit_minor

    def to_public(self) -> dict[str, Any]:
        public: dict[str, Any] = {"name": self.name, "quantity": self.quantity, "unit_minor": self.unit_minor}
        if self.vat_basis_points is not None:
            public["vat_basis_points"] = self.vat_basis_points
        return public

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "LineItem":
        return cls(
            name=str(record["name"]), quantity=int(record["quantity"]), unit_minor=int(record["unit_minor"]),
            vat_basis_points=record.get("vat_basis_points"),
        )


@dataclass(frozen=True)
class SaleRequest:
    """A sale as asked for, before a card is read or a code is shown: what
    ``mpos charge`` and the till hand the card flow (``payments``) and the QR
    flow (``qr_payments``) alike. ``scenario`` and ``offline`` concern a card
    payment only."""

    amount_minor: int
    tip_minor: int
    currency: Currency
    note: str | None = None
    items: tuple = ()  # the sale's lines (LineItem), SPEC §5 items
    scenario: str | None = None  # simulated reader only
    offline: str = "allow"  # allow | never


@dataclass(frozen=True)
class VatLine:
    """The VAT included at one rate: on ``gross_minor``, ``vat_minor`` of it."""

    basis_points: int
    gross_minor: int
    vat_minor: int


def vat_by_rate(items: Iterable[LineItem]) -> list[VatLine]:
    """VAT included per rate, computed on each rate's total (one rounding per
    rate, not per line), highest rate first; lines without a rate have none."""
    gross: dict[int, int] = {}
    for item in items:
        if item.vat_basis_points is not None:
            gross[item.vat_basis_points] = gross.get(item.vat_basis_points, 0) + item.total_minor
    return [VatLine(rate, total, vat_included(total, rate)) for rate, total in sorted(gross.items(), reverse=True)]


@dataclass(frozen=True)
class Transaction:
    id: str
    type: TxType
    status: TxStatus
    amount_minor: int
    tip_minor: int
    currency: str
    created_at: datetime
    business_date: str
    sandbox: bool
    stage: Stage = Stage.INTENT
    card: Card | None = None
    response_code: str | None = None
    auth_code: str | None = None
    offline: bool = False
    refunded_minor: int = 0
    original_id: str | None = None
    note: str | None = None
    updated_at: datetime | None = None
    acquirer_id: str | None = None
    batch_id: str | None = None
    message: str | None = None  # why it ended the way it did, for people
    merchant_id: str | None = None
    terminal_id: str | None = None
    # Offline payments keep the reader's *encrypted* card blob until forwarded
    # (SPEC §8 allows nothing in clear); erased once the acquirer answers.
    stored_card_data: str | None = None
    emv_out: dict[str, str] = field(default_factory=dict)  # non-sensitive EMV tags kept for receipts
    # How many times the journal has written this transaction (1 when added,
    # +1 per update; stamped by the journal itself, 0 in records older than
    # the stamp). It orders a transaction's own versions, so the hub keeps
    # the newest without any clock or lock (mpos-sync(1)). Not part of a
    # transaction's identity: equality ignores it.
    version: int = field(default=0, compare=False)
    method: str = "card"  # card | qr (SPEC §5); records from before QR payments are card
    # QR payments (SPEC §10): {format, payload, reference} and, once the bank
    # statement shows the credit, {bank_reference, booking_date}; None for cards.
    qr: dict[str, str] | None = None
    items: tuple[LineItem, ...] = ()  # what was sold (catalogue items, custom amounts); () before items existed

    @property
    def total_minor(self) -> int:
        return self.amount_minor + self.tip_minor

    @property
    def reference(self) -> str:
        """The client's reference and idempotency key at the acquirer."""
        return self.id

    def follow_up(self, kind: TxType, amount_minor: int, *, tx_id: str, at: datetime) -> "Transaction":
        """A refund or void of this sale as it is sent (pending, stage
        ``sent``) at ``at``: the sale's currency, mode, card, merchant and terminal."""
        return Transaction(
            id=tx_id,
            type=kind,
            status=TxStatus.PENDING,
            stage=Stage.SENT,
            amount_minor=amount_minor,
            tip_minor=0,
            currency=self.currency,
            created_at=at,
            updated_at=at,
            business_date=at.date().isoformat(),
            sandbox=self.sandbox,
            card=self.card,
            original_id=self.id,
            merchant_id=self.merchant_id,
            terminal_id=self.terminal_id,
        )

    def moved_to(self, status: TxStatus, **changes: Any) -> "Transaction":
        if not transition_allowed(self.status, status):
            raise InvalidTransition(f"{self.id}: {self.status} → {status} is not allowed")
        return self.with_changes(status=status, **changes)

    def with_changes(self, **changes: Any) -> "Transaction":
        # dataclasses.replace re-runs __init__ over every field; settlement
        # stamps 100,000 transactions at once, so copy the fields directly.
        unknown = changes.keys() - self.__dict__.keys()
        if unknown:
            raise TypeError(f"unknown transaction fields: {', '.join(sorted(unknown))}")
        clone = object.__new__(Transaction)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone

    # -- serialisation -------------------------------------------------------

    def to_public(self) -> dict[str, Any]:
        """The JSON shape of SPEC §5 (plus a few documented extras)."""
        card = None
        if self.card is not None:
            card = {
                "scheme": self.card.scheme,
                "masked_pan": self.card.masked_pan,
                "entry_mode": self.card.entry_mode,
                "cvm": self.card.cvm,
                "aid": self.card.aid,
                "application_label": self.card.application_label,
            }
        return {
            "id": self.id,
            "type": str(self.type),
            "status": str(self.status),
            "amount_minor": self.amount_minor,
            "tip_minor": self.tip_minor,
            "total_minor": self.total_minor,
            "currency": self.currency,
            "created_at": self.created_at.isoformat(),
            "business_date": self.business_date,
            "card": card,
            "response_code": self.response_code,
            "auth_code": self.auth_code,
            "offline": self.offline,
            "sandbox": self.sandbox,
            "refunded_minor": self.refunded_minor,
            "original_id": self.original_id,
            "note": self.note,
            "message": self.message,
            "batch_id": self.batch_id,
            "method": self.method,
            "terminal_id": self.terminal_id,
            "items": [item.to_public() for item in self.items],
            "qr": dict(self.qr) if self.qr else None,
        }

    def to_record(self) -> dict[str, Any]:
        """The journal's stored form: plain JSON types, every field."""
        record = asdict(self)
        record["type"] = str(self.type)
        record["status"] = str(self.status)
        record["stage"] = str(self.stage)
        record["created_at"] = self.created_at.isoformat()
        record["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        record["items"] = [item.to_public() for item in self.items]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Transaction":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in record.items() if k in known}
        data["type"] = TxType(data["type"])
        data["status"] = TxStatus(data["status"])
        data["stage"] = Stage(data.get("stage", Stage.DONE))
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        if data.get("updated_at"):
            data["updated_at"] = datetime.fromisoformat(data["updated_at"])
        if data.get("card"):
            data["card"] = Card(**data["card"])
        data["emv_out"] = dict(data.get("emv_out") or {})
        data["items"] = tuple(LineItem.from_record(item) for item in data.get("items") or ())
        if data.get("qr"):
            data["qr"] = dict(data["qr"])
        return cls(**data)
