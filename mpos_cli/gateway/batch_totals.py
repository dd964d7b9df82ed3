"""An acquirer's batch totals per currency, as SPEC's settlement answer
carries them: sales and refunds counted and summed (amount plus tip, in
minor units), and the net of the two."""

from __future__ import annotations


def empty_totals() -> dict[str, int]:
    return {"sales_count": 0, "sales_minor": 0, "refunds_count": 0, "refunds_minor": 0, "net_minor": 0}


def add_to_totals(totals: dict[str, dict[str, int]], currency: str, kind: str, minor: int) -> None:
    """Count one operation (``kind`` "sale", else a refund) of ``minor`` units into ``totals``."""
    entry = totals.setdefault(currency, empty_totals())
    if kind == "sale":
        entry["sales_count"] += 1
        entry["sales_minor"] += minor
        entry["net_minor"] += minor
    else:
        entry["refunds_count"] += 1
        entry["refunds_minor"] += minor
        entry["net_minor"] -= minor
