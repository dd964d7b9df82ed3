"""Items after the sale: receipts, the X-report by item, the beancount ledger per item."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def two_sales(mpos):
    for args in (("Yoga class", "12", "--vat", "20"), ("Mat", "3", "--vat", "5.5"), ("Drink", "2.50")):
        assert mpos("items", "add", *args).exit_code == 0
    first = mpos("charge", "--item", "Yoga class", "--item", "Mat*2", "--tip", "2", "--json")
    second = mpos("charge", "--item", "Mat", "--item", "Drink*3", "--json")
    declined = mpos("charge", "--item", "Drink*2", "--tip", "0.05", "--json")  # 5.05: declined 05
    assert (first.exit_code, second.exit_code, declined.exit_code) == (0, 0, 3)
    return mpos, first.json(), second.json()


def test_the_receipt_lists_items_quantities_unit_prices_and_vat_per_rate(two_sales):
    mpos, first, _ = two_sales
    text = mpos("receipt", first["id"], "--format", "text").stdout
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "1 x Yoga class €12.00" in lines
    assert "2 x Mat @ €3.00 €6.00" in lines
    # VAT included, per rate, on each rate's total: 12.00 × 20/120 = 2.00; 6.00 × 5.5/105.5 = 0.3128… → 0.31
    assert "incl. VAT 20% on €12.00 €2.00" in lines
    assert "incl. VAT 5.5% on €6.00 €0.31" in lines
    assert lines.index("2 x Mat @ €3.00 €6.00") < lines.index("TOTAL €20.00") < lines.index("incl. VAT 20% on €12.00 €2.00")
    html = mpos("receipt", first["id"], "--format", "html").stdout
    assert '<table class="items">' in html and "2 x Mat @ €3.00" in html and '<table class="vat">' in html


def test_a_receipt_without_items_has_no_item_or_vat_lines(mpos):
    tx = mpos("charge", "4", "--json").json()
    text = mpos("receipt", tx["id"], "--format", "text").stdout
    assert " x " not in text and "VAT" not in text


def test_report_by_item_counts_captured_sales_only(two_sales):
    mpos, _, _ = two_sales
    by_item = mpos("report", "--by", "item", "--json").json()["currencies"]["EUR"]["by_item"]
    assert by_item == {
        "Yoga class": {"quantity": 1, "sales_count": 1, "sales_minor": 1200},
        "Drink": {"quantity": 3, "sales_count": 1, "sales_minor": 750},
        "Mat": {"quantity": 3, "sales_count": 2, "sales_minor": 900},
    }
    rows = mpos("report", "--by", "item", "--csv").stdout.splitlines()
    assert rows == ["currency,item,quantity,sales_count,sales_minor", "EUR,Yoga class,1,1,1200",
                    "EUR,Mat,3,2,900", "EUR,Drink,3,1,750"]
    human = mpos("report", "--by", "item").stdout
    assert "Yoga class" in human and "12.00" in human
    bad = mpos("report", "--by", "colour")
    assert bad.exit_code == 2 and "--by takes item" in bad.stderr


def bean_check(path: Path) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).with_name("bean-check")
    command = str(beside) if beside.exists() else shutil.which("bean-check")
    assert command, "bean-check is missing: pip install -e '.[test]'"
    return subprocess.run([command, str(path)], capture_output=True, text=True)


def test_beancount_per_item_posts_each_line_to_its_own_account_and_checks(two_sales, tmp_path):
    mpos, first, _ = two_sales
    ledger = tmp_path / "items.beancount"
    result = mpos("export", "--format", "beancount", "--per-item", "--output", str(ledger))
    assert result.exit_code == 0, result
    text = ledger.read_text()
    checked = bean_check(ledger)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Income:Sales:Yoga-Class" in text and "Income:Sales:Drink" in text
    block = text.split(first["id"], 1)[1].split("\n\n", 1)[0]
    postings = [" ".join(line.split()) for line in block.splitlines() if line.startswith("  ") and "EUR" in line]
    assert postings == [
        "Assets:Mpos:Clearing 20.00 EUR", "Income:Sales:Yoga-Class -12.00 EUR", "Income:Sales:Mat -6.00 EUR",
        "Income:Tips -2.00 EUR",
    ]
    assert 'item: "Mat"' in block and "quantity: 2" in block
    plain = mpos("export", "--format", "beancount").stdout
    assert "Income:Sales:Mat" not in plain and "Income:Sales " in plain
    refused = mpos("export", "--format", "csv", "--per-item")
    assert refused.exit_code == 2 and refused.stdout == ""
