"""Offline store-and-forward (deferred authorisation).

When the acquirer cannot be reached and offline is allowed, a payment may be
stored and forwarded later, under a policy that limits the merchant's risk
and follows the card rules schemes impose:

- never with an online PIN (it can only be checked by the issuer) and never
  from a swipe (no cryptogram to check later);
- never with an expired card;
- per payment, total stored and count caps (``offline.*`` config keys);
- no new payment is stored while the oldest stored one is older than
  ``offline.max_age_hours``: the queue must be forwarded first.

The card data is kept only as the reader's sealed blob, erased as soon as
the acquirer answers. A decline after forwarding is recorded and shown
loudly: the goods are gone and the merchant must know.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from mpos_cli.errors import GatewayError, GatewayOutcomeUnknown, GatewayUnreachable
from mpos_cli.money import currency
from mpos_cli.transaction import Stage, Transaction, TxStatus


@dataclass(frozen=True)
class QueueSummary:
    count: int
    totals_minor: dict[str, int]
    oldest: Transaction | None
    transactions: list[Transaction]


def queued(journal) -> list[Transaction]:
    return [tx for tx in journal.open_transactions() if tx.status == TxStatus.OFFLINE and tx.stage == Stage.STORED]


def summary(journal) -> QueueSummary:
    items = sorted(queued(journal), key=lambda tx: tx.created_at)
    totals: dict[str, int] = {}
    for tx in items:
        totals[tx.currency] = totals.get(tx.currency, 0) + tx.total_minor
    return QueueSummary(len(items), totals, items[0] if items else None, items)


def refusal_reason(env, journal, tx: Transaction, card_result) -> str | None:
    """Why this payment may not be stored offline, or None if it may."""
    config = env.config
    cur = currency(tx.currency)
    if card_result.cvm == "online_pin":
        return "a payment with online PIN cannot be stored offline"
    if card_result.entry_mode == "swipe":
        return "a swiped card cannot be stored offline"
    if card_result.expiry and card_result.expiry < env.now().strftime("%y%m"):
        return "the card has expired"
    # Limits carry their currency (mpos_cli.config.Amount); one set in another is no rate to guess.
    max_amount, max_total = config["offline.max_amount"], config["offline.max_total"]
    for limit in (max_amount, max_total):
        if limit.minor_in(cur.code) is None:
            return f"the offline limits are set in {limit.currency}, not {cur.code}"
    if tx.total_minor > max_amount.minor:
        return f"it is above the offline limit of {max_amount}"
    queue = summary(journal)
    if queue.count >= config["offline.max_count"]:
        return f"{queue.count} payments are already stored (limit {config['offline.max_count']})"
    if queue.totals_minor.get(tx.currency, 0) + tx.total_minor > max_total.minor:
        return f"the stored total would pass the limit of {max_total}"
    if queue.oldest and env.now() - queue.oldest.created_at > timedelta(hours=config["offline.max_age_hours"]):
        return "stored payments are older than the offline age limit; forward them first"
    return None


def store_offline_or_fail(payments, tx: Transaction, card_result, mode: str, cause: GatewayUnreachable) -> Transaction:
    reason = "offline payments are switched off (--offline never)" if mode == "never" else None
    if reason is None:
        reason = refusal_reason(payments.env, payments.journal, tx, card_result)
    if reason is not None:
        payments._finish(tx, TxStatus.FAILED, message=f"acquirer unreachable; not stored offline: {reason}")
        raise GatewayUnreachable(
            f"the acquirer is unreachable ({cause.message}) and the payment was not stored offline: {reason}",
            hint="nobody was charged; check the connection and try again",
        )
    payments.notify(
        f"STORED OFFLINE: the acquirer is unreachable ({cause.message}); {tx.id} will be authorised when it "
        "answers again, and the issuer may still decline it then"
    )
    return payments._save(
        tx.moved_to(
            TxStatus.OFFLINE,
            stage=Stage.STORED,
            offline=True,
            stored_card_data=card_result.encrypted_card_data,
            emv_out=dict(card_result.emv),
            message="stored offline; will be authorised when the acquirer is back",
        )
    )


# Forwarded results are journaled together (one append, one fsync per batch):
# at most this many, or as many as came back in this many seconds.
FLUSH_EVERY = 1000
FLUSH_SECONDS = 1.0


def forward(pos, notify=lambda _: None, *, brief: bool = False) -> list[Transaction]:
    """Send every stored payment as a deferred authorisation, oldest first.

    Stops at the first unreachable acquirer (the rest would fail the same
    way); an unknown outcome stays queued and is resent later under the
    same reference, which the acquirer answers idempotently (``brief``: the
    first unknown outcome ends the pass too).

    Results are journaled in batches: a crash before a batch is on disk
    leaves those payments queued, and forwarding them again replays the
    acquirer's saved answers, so nothing is charged twice or lost.
    """
    from mpos_cli.recovery import InFlight

    inflight = InFlight(pos.env)
    done: list[Transaction] = []
    unsaved: list[Transaction] = []
    declined: list[Transaction] = []

    last_flush = [time.monotonic()]

    def flush() -> None:
        if unsaved:
            pos.journal.update_many(unsaved)
            unsaved.clear()
        last_flush[0] = time.monotonic()

    # One forwarder at a time: a second process (another command's start)
    # leaves the queue to the one already at it.
    with inflight.claim("offline-forward", wait=False) as mine:
        if not mine:
            return done
        try:
            for tx in summary(pos.journal).transactions:
                try:
                    result = _send(pos, tx)
                except GatewayUnreachable:
                    if brief:
                        break
                    raise
                except (GatewayOutcomeUnknown, GatewayError) as exc:
                    notify(f"{tx.id}: no clear answer yet ({exc.message}); it stays queued")
                    if brief:
                        break
                    continue
                if result is None:
                    continue
                tx = _settled(pos, tx, result)
                if tx.status == TxStatus.DECLINED:
                    declined.append(tx)
                unsaved.append(tx)
                done.append(tx)
                if len(unsaved) >= FLUSH_EVERY or time.monotonic() - last_flush[0] >= FLUSH_SECONDS:
                    flush()
        finally:
            flush()
    if declined:
        from mpos_cli.money import format_money

        for tx in declined:
            notify(f"!! {tx.id} was DECLINED when forwarded ({tx.response_code}): the sale of "
                   f"{format_money(tx.total_minor, currency(tx.currency))} was NOT paid")
    return done


def _send(pos, tx: Transaction):
    """The acquirer's answer for a stored payment, or None to leave it queued."""
    from mpos_cli.errors import GatewayRejected
    from mpos_cli.gateway.base import AuthorisationRequest

    request = AuthorisationRequest(
        reference=tx.reference,
        amount_minor=tx.amount_minor,
        tip_minor=tx.tip_minor,
        currency=tx.currency,
        entry_mode=tx.card.entry_mode,
        cvm=tx.card.cvm,
        masked_pan=tx.card.masked_pan,
        scheme=tx.card.scheme,
        encrypted_card_data=tx.stored_card_data or "",
        emv=dict(tx.emv_out),
        deferred=True,
        captured_at=tx.created_at.isoformat(),
        merchant_id=tx.merchant_id,
        terminal_id=tx.terminal_id,
    )
    try:
        return pos.gateway.authorise(request)
    except GatewayRejected:
        # The reference is already taken at the acquirer by another body: the
        # online attempt did arrive after all. What it holds decides.
        found = pos.gateway.lookup(tx.reference)
        if found is None or found.status not in ("approved", "declined", "settled", "reversed"):
            raise
        return found


def _settled(pos, tx: Transaction, result) -> Transaction:
    kept_tags = _kept_tags()
    kept = {tag: value for tag, value in tx.emv_out.items() if tag in kept_tags}
    if result.approved and result.status != "reversed":
        return tx.moved_to(
            TxStatus.APPROVED, stage=Stage.DONE, stored_card_data=None, emv_out=kept,
            response_code=result.response_code, auth_code=result.auth_code, acquirer_id=result.acquirer_id,
            message="authorised after being stored offline", updated_at=pos.env.now(),
        )
    code = result.response_code if not result.approved else "12"
    return tx.moved_to(
        TxStatus.DECLINED, stage=Stage.DONE, stored_card_data=None, emv_out=kept,
        response_code=code, acquirer_id=result.acquirer_id,
        message=f"DECLINED after forwarding ({code}): the sale was not paid",
        updated_at=pos.env.now(),
    )


def _kept_tags():
    from mpos_cli.payments import KEPT_EMV_TAGS

    return KEPT_EMV_TAGS
