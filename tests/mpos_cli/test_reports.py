"""The X-report core: what counts as taken, breakdowns, hours on the trader's clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from mpos_cli.reports import BREAKDOWNS, CSV_HEADER, METRICS, build_report, kind_of
from mpos_cli.transaction import Card, Stage, Transaction, TxStatus, TxType

BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN)
_serial = iter(range(10**9))


def make_tx(
    status=TxStatus.APPROVED, *, type_=TxType.SALE, amount=1000, tip=0, currency="EUR", at=NOON,
    scheme="visa", entry_mode="contactless", card=True, sandbox=True,
) -> Transaction:
    return Transaction(
        id=f"{at.strftime('%Y%m%d')}-{next(_serial):06d}",
        type=type_, status=status, stage=Stage.DONE, amount_minor=amount, tip_minor=tip, currency=currency,
        created_at=at, business_date=at.date().isoformat(), sandbox=sandbox,
        card=Card(scheme=scheme, masked_pan="476173******0010", entry_mode=entry_mode, cvm="none") if card else None,
        response_code="00", auth_code="A1B2C3",
    )


def report_of(*txs, tz=BERLIN):
    return build_report(iter(txs), date_from="2026-11-24", date_to="2026-11-24", tz=tz, generated_at=NOON)


def test_captured_sales_count_as_taken_voids_and_declines_do_not():
    report = report_of(
        make_tx(TxStatus.APPROVED, amount=1000, tip=100),
        make_tx(TxStatus.PARTIALLY_REFUNDED, amount=2000),
        make_tx(TxStatus.REFUNDED, amount=500),
        make_tx(TxStatus.VOIDED, amount=9900),
        make_tx(TxStatus.DECLINED, amount=4400),
        make_tx(TxStatus.DECLINED, amount=4400),
        make_tx(TxStatus.CANCELLED, amount=7700),
        make_tx(TxStatus.FAILED, amount=7700),
        make_tx(TxStatus.PENDING, amount=7700),
    )
    totals = report.currencies["EUR"].totals.to_public()
    assert totals["sales_count"] == 3
    assert totals["sales_minor"] == 1100 + 2000 + 500  # amount + tip, as settlement counts it
    assert totals["tips_minor"] == 100
    assert totals["voids_count"] == 1
    assert totals["declines_count"] == 2
    assert totals["net_minor"] == 3600
    assert report.transactions_read == 9


def test_refunds_are_their_own_line_and_reduce_net():
    report = report_of(
        make_tx(TxStatus.PARTIALLY_REFUNDED, amount=2000, tip=200),
        make_tx(TxStatus.APPROVED, type_=TxType.REFUND, amount=700),
        make_tx(TxStatus.DECLINED, type_=TxType.REFUND, amount=300),  # moved no money
        make_tx(TxStatus.APPROVED, type_=TxType.VOID, amount=500),  # the voided sale carries the void
    )
    totals = report.currencies["EUR"].totals.to_public()
    assert (totals["refunds_count"], totals["refunds_minor"]) == (1, 700)
    assert totals["net_minor"] == 2200 - 700
    assert totals["declines_count"] == 0  # only card declines of sales count as declines


def test_offline_sales_are_reported_apart_from_the_money_taken():
    report = report_of(make_tx(TxStatus.OFFLINE, amount=1500, tip=100), make_tx(amount=1000))
    totals = report.currencies["EUR"].totals.to_public()
    assert (totals["offline_count"], totals["offline_minor"]) == (1, 1600)
    assert (totals["sales_count"], totals["net_minor"]) == (1, 1000)


def test_currencies_are_never_added_together():
    report = report_of(make_tx(amount=1250), make_tx(amount=1500, currency="JPY"), make_tx(amount=1500, currency="KWD"))
    assert sorted(report.currencies) == ["EUR", "JPY", "KWD"]
    assert report.currencies["JPY"].totals.sales_minor == 1500
    assert report.currencies["EUR"].totals.sales_minor == 1250


def test_breakdowns_by_scheme_and_entry_mode():
    report = report_of(
        make_tx(scheme="visa", entry_mode="contactless", amount=100),
        make_tx(scheme="visa", entry_mode="chip", amount=200),
        make_tx(scheme="mastercard", entry_mode="chip", amount=400),
        make_tx(TxStatus.DECLINED, card=False, amount=800),
    )
    eur = report.currencies["EUR"].to_public()
    assert {k: v["sales_minor"] for k, v in eur["by_scheme"].items()} == {"mastercard": 400, "visa": 300, "unknown": 0}
    assert eur["by_scheme"]["unknown"]["declines_count"] == 1
    assert {k: v["sales_count"] for k, v in eur["by_entry_mode"].items()} == {"chip": 2, "contactless": 1, "unknown": 0}


def test_hours_are_on_the_business_clock_not_the_recorded_offset():
    # 23:30 UTC is 00:30 the next day in Berlin in winter; 08:59 Berlin recorded in UTC is 07:59Z.
    late = make_tx(at=datetime(2026, 11, 24, 23, 30, tzinfo=timezone.utc), amount=100)
    early = make_tx(at=datetime(2026, 11, 24, 7, 59, tzinfo=timezone.utc), amount=200)
    by_hour = report_of(late, early).currencies["EUR"].to_public()["by_hour"]
    assert {hour: tally["sales_minor"] for hour, tally in by_hour.items()} == {"00": 100, "08": 200}
    assert list(by_hour) == ["00", "08"]  # in order of the day


def test_json_document_shape():
    document = report_of(make_tx(amount=1000, tip=50)).to_public()
    assert document["report"] == "x"
    assert (document["date_from"], document["date_to"]) == ("2026-11-24", "2026-11-24")
    assert document["sandbox"] is True
    eur = document["currencies"]["EUR"]
    assert set(eur) == {"totals", "by_method", "by_scheme", "by_entry_mode", "by_hour", "by_item"}
    assert list(eur["totals"]) == list(METRICS)
    assert all(isinstance(value, int) for value in eur["totals"].values())
    assert eur["by_hour"]["12"]["sales_minor"] == 1050


def test_empty_range_is_an_empty_report():
    report = report_of()
    assert report.to_public()["currencies"] == {}
    assert list(report.csv_rows()) == []
    assert report.sandbox is False


def test_csv_rows_follow_the_header():
    report = report_of(make_tx(amount=1000, scheme="visa"), make_tx(amount=300, currency="GBP", scheme="amex"))
    rows = list(report.csv_rows())
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    assert [row[:3] for row in rows] == [
        ["EUR", "total", "all"], ["EUR", "method", "card"], ["EUR", "scheme", "visa"],
        ["EUR", "entry_mode", "contactless"], ["EUR", "hour", "12"],
        ["GBP", "total", "all"], ["GBP", "method", "card"], ["GBP", "scheme", "amex"],
        ["GBP", "entry_mode", "contactless"], ["GBP", "hour", "12"],
    ]
    assert rows[0][CSV_HEADER.index("sales_minor")] == 1000


def test_kind_of_every_status():
    sale_kinds = {status: kind_of(make_tx(status)) for status in TxStatus}
    assert sale_kinds == {
        TxStatus.PENDING: None, TxStatus.APPROVED: "sale", TxStatus.DECLINED: "decline",
        TxStatus.CANCELLED: None, TxStatus.FAILED: None, TxStatus.OFFLINE: "offline",
        TxStatus.VOIDED: "void", TxStatus.REFUNDED: "sale", TxStatus.PARTIALLY_REFUNDED: "sale",
    }


transactions = st.lists(
    st.builds(
        make_tx,
        st.sampled_from(list(TxStatus)),
        type_=st.sampled_from([TxType.SALE, TxType.REFUND]),
        amount=st.integers(1, 10**9),
        tip=st.integers(0, 10**6),
        currency=st.sampled_from(["EUR", "JPY"]),
        at=st.integers(0, 24 * 60 - 1).map(lambda minutes: datetime(2026, 11, 24, tzinfo=BERLIN) + timedelta(minutes=minutes)),
        scheme=st.sampled_from(["visa", "mastercard"]),
        entry_mode=st.sampled_from(["contactless", "chip", "swipe"]),
        card=st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(transactions)
def test_every_breakdown_adds_up_to_the_totals(txs):
    report = report_of(*txs)
    for code, cur in report.currencies.items():
        totals = cur.totals.to_public()
        mine = [tx for tx in txs if tx.currency == code]
        sales = [tx for tx in mine if tx.type == TxType.SALE and tx.status in (TxStatus.APPROVED, TxStatus.REFUNDED, TxStatus.PARTIALLY_REFUNDED)]
        refunds = [tx for tx in mine if tx.type == TxType.REFUND and tx.status == TxStatus.APPROVED]
        assert totals["sales_minor"] == sum(tx.amount_minor + tx.tip_minor for tx in sales)
        assert totals["net_minor"] == totals["sales_minor"] - sum(tx.amount_minor for tx in refunds)
        for name in BREAKDOWNS:
            for metric in METRICS:
                assert sum(tally.to_public()[metric] for _, tally in cur.breakdown(name)) == totals[metric], (name, metric)
