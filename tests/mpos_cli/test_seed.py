"""``mpos sandbox seed``: N approved sales, each with its own id."""

from __future__ import annotations


def test_seeded_ids_are_unique_even_when_the_random_part_repeats(mpos, monkeypatch):
    """Ids have 30 random bits per business day; 100,000 sales on one day would
    repeat one (the birthday bound), so seed draws a repeated id again. The
    random part is forced to repeat here, as it eventually would."""
    from mpos_cli import seed

    drawn = iter(["AAAAAA", "AAAAAA", "BBBBBB", "AAAAAA", "BBBBBB", "CCCCCC"])
    monkeypatch.setattr(seed, "new_transaction_id",
                        lambda business_date: f"{business_date.replace('-', '')}-{next(drawn)}")
    result = mpos("sandbox", "seed", "--count", "3", "--days", "1")
    assert result.exit_code == 0, result
    ids = [tx["id"] for tx in mpos("journal", "list", "--from", "2000-01-01", "--json").json()]
    assert sorted(tx_id.split("-")[1] for tx_id in ids) == ["AAAAAA", "BBBBBB", "CCCCCC"]
