"""Demo and benchmark data: N approved sandbox sales, written consistently into
the journal and the sandbox acquirer's ledger (SPEC §3 ``sandbox seed``).

Amounts avoid the sandbox's decline cents so every seeded sale is one the
sandbox would have approved; ids carry their business date like real ones.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from mpos_cli.drivers.sim.test_material import TEST_CARDS
from mpos_cli.transaction import Card, Stage, Transaction, TxStatus, TxType, new_transaction_id

DECLINE_CENTS = {5, 51, 54, 55, 91, 98}
AUTH_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
CHUNK = 5_000


def _amount(rng: random.Random) -> int:
    while True:
        minor = rng.randrange(100, 20_000)
        if minor % 100 not in DECLINE_CENTS:
            return minor


def make_sales(env, *, count: int, days: int, currency: str, rng: random.Random, merchant: dict) -> list[Transaction]:
    today = env.now()
    cards = list(TEST_CARDS.values())
    sales = []
    # Ids carry 30 random bits per business day: 100,000 sales on one day
    # would meet the birthday bound, so a repeated id is drawn again.
    taken: set[str] = set()
    for _ in range(count):
        day = today - timedelta(days=rng.randrange(days))
        moment = day.replace(hour=rng.randrange(8, 20), minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)
        if moment > today:
            moment = today
        card = rng.choice(cards)
        entry_mode = rng.choice(("contactless", "contactless", "contactless", "chip"))
        amount = _amount(rng)
        tip = rng.choice((0, 0, 0, 50, 100, 200))
        if (amount + tip) % 100 in DECLINE_CENTS:
            tip = 0
        business_date = moment.date().isoformat()
        tx_id = new_transaction_id(business_date)
        while tx_id in taken:
            tx_id = new_transaction_id(business_date)
        taken.add(tx_id)
        sales.append(
            Transaction(
                id=tx_id,
                type=TxType.SALE,
                status=TxStatus.APPROVED,
                stage=Stage.DONE,
                amount_minor=amount,
                tip_minor=tip,
                currency=currency,
                created_at=moment,
                updated_at=moment,
                business_date=business_date,
                sandbox=True,
                card=Card(
                    scheme=card.scheme, masked_pan=card.masked_pan, entry_mode=entry_mode,
                    cvm="none" if entry_mode == "contactless" else "online_pin", aid=card.aid,
                    application_label=card.label,
                ),
                response_code="00",
                auth_code="".join(rng.choice(AUTH_ALPHABET) for _ in range(6)),
                merchant_id=merchant["merchant_id"],
                terminal_id=merchant["terminal_id"],
                note="seeded",
            )
        )
    sales.sort(key=lambda tx: tx.created_at)
    return sales


def seed(pos, *, count: int, days: int, notify=lambda _: None, rng: random.Random | None = None) -> int:
    """Write the sales to the acquirer first, then the journal: a sale the
    journal has is always one the acquirer has too."""
    rng = rng or random.Random()
    sales = make_sales(
        pos.env, count=count, days=days, currency=pos.env.config["currency"], rng=rng, merchant=pos.merchant
    )
    for start in range(0, len(sales), CHUNK):
        chunk = sales[start : start + CHUNK]
        pos.gateway.seed([seed_entry(tx) for tx in chunk])
        pos.journal.add_many(chunk)
        if len(sales) > CHUNK:
            notify(f"seeded {start + len(chunk)} of {len(sales)}")
    return len(sales)


def seed_entry(tx: Transaction):
    from mpos_cli.gateway.base import SeedSale

    return SeedSale(
        reference=tx.reference,
        amount_minor=tx.amount_minor,
        tip_minor=tx.tip_minor,
        currency=tx.currency,
        captured_at=tx.created_at.isoformat(),
        masked_pan=tx.card.masked_pan,
        scheme=tx.card.scheme,
        entry_mode=tx.card.entry_mode,
        cvm=tx.card.cvm,
        auth_code=tx.auth_code,
    )
