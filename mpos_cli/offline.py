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

from mpos_cli.errors import GatewayError, GatewayOutcomeUnknown, GatewayRejected, GatewayUnreachable
from mpos_cli.money import currency
from mpos_cli.records import InFlight, Records, deferred_authorisation_request, kept_emv
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


def store_or_refuse(
    env, records: Records, tx: Transaction, card_result, mode: str, cause: GatewayUnreachable, notify,
) -> Transaction:
    """Store a sale whose authorisation could not be sent (stage sent → stored),
    or finish it as failed and say why it may not be stored."""
    reason = "offline payments are switched off (--offline never)" if mode == "never" else None
    if reason is None:
        reason = refusal_reason(env, records.journal, tx, card_result)
    if reason is not None:
        records.finish(tx, TxStatus.FAILED, message=f"acquirer unreachable; not stored offline: {reason}")
        raise GatewayUnreachable(
            f"the acquirer is unreachable ({cause.message}) and the payment was not stored offline: {reason}",
            hint="nobody was charged; check the connection and try again",
        )
    notify(
        f"STORED OFFLINE: the acquirer is unreachable ({cause.message}); {tx.id} will be authorised when it "
        "answers again, and the issuer may still decline it then"
    )
    return records.save(
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
    first unknown outcome ends the pass too, and each call gets the short
    ``retry.BRIEF`` policy).

    Results are journaled in batches: a crash before a batch is on disk
    leaves those payments queued, and forwarding them again replays the
    acquirer's saved answers, so nothing is charged twice or lost.
    """
    from mpos_cli.gateway import retry

    policy = retry.BRIEF if brief else None
    records = Records(pos.journal, pos.env.now)
    inflight = InFlight(pos.env)
    answered_by_sandbox: bool | None = None
    done: list[Transaction] = []
    unsaved: list[Transaction] = []
    declined: list[Transaction] = []

    last_flush = [time.monotonic()]

    def flush() -> None:
        if unsaved:
            records.journal.update_many(unsaved)
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
                    result = _send(pos.gateway, tx, policy)
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
                if answered_by_sandbox is None:  # the acquirer that answered says what it is
                    answered_by_sandbox = pos.gateway.sandbox
                tx = _answered(tx, result, records.clock(), sandbox=answered_by_sandbox)
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


def _send(gateway, tx: Transaction, policy):
    """The acquirer's answer for a stored payment, or None to leave it queued."""
    try:
        return gateway.authorise(deferred_authorisation_request(tx), policy=policy)
    except GatewayRejected:
        # The reference is already taken at the acquirer by another body: the
        # online attempt did arrive after all. What it holds decides.
        found = gateway.lookup(tx.reference, policy=policy)
        if found is None or found.status not in ("approved", "declined", "settled", "reversed"):
            raise
        return found


def _answered(tx: Transaction, result, now, *, sandbox: bool) -> Transaction:
    """The stored payment as the acquirer answered it (stage stored → done);
    the sealed card data is erased, and ``sandbox`` is what the acquirer
    that answered is."""
    kept = kept_emv(tx.emv_out)
    if result.approved and result.status != "reversed":
        return tx.moved_to(
            TxStatus.APPROVED, stage=Stage.DONE, stored_card_data=None, emv_out=kept,
            response_code=result.response_code, auth_code=result.auth_code, acquirer_id=result.acquirer_id,
            message="authorised after being stored offline", updated_at=now, sandbox=sandbox,
        )
    code = result.response_code if not result.approved else "12"
    return tx.moved_to(
        TxStatus.DECLINED, stage=Stage.DONE, stored_card_data=None, emv_out=kept,
        response_code=code, acquirer_id=result.acquirer_id,
        message=f"DECLINED after forwarding ({code}): the sale was not paid",
        updated_at=now, sandbox=sandbox,
    )
