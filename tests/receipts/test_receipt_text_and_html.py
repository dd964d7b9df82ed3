"""Plain text and HTML receipts, checked by what they say."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mpos_cli.receipts import build_receipt, render
from mpos_cli.receipts.render.lines import cell_width

HOSTILE_NAME = '<script>alert("owned")</script> & Sons'
HOSTILE_NOTE = '</td><img src=x onerror="fetch(\'//evil\')"> \'quoted\''


@pytest.mark.parametrize("width", [32, 42])
@pytest.mark.parametrize("copy", ["customer", "merchant"])
def test_every_line_fits_the_paper(every_sample, merchant, width, copy):
    for tx in every_sample:
        text = render(build_receipt(tx, **merchant, copy=copy), "text", width=width)
        too_wide = [line for line in text.splitlines() if cell_width(line) > width]
        assert too_wide == [], tx.id


def test_text_receipt_of_a_contactless_sale(contactless_sale, merchant):
    text = render(build_receipt(contactless_sale, **merchant), "text")
    lines = text.splitlines()
    assert "The Coffee Cart" in lines[4]  # under the three-line SANDBOX box and its note
    assert "Amount" + " " * 30 + "€12.50" in lines
    assert "Tip" + " " * 34 + "€2.00" in lines
    assert "TOTAL" + " " * 31 + "€14.50" in lines
    for expected in ("SALE", "APPROVED", "2026-11-24 14:03:07 +00:00", "************0010", "No CVM required",
                     "Response", "00 Approved", "20261124-K3Q9FX", "CUSTOMER COPY"):
        assert expected in text
    assert "476173" not in text  # the customer copy shows the last four only
    assert text.endswith("\n")


def test_text_receipt_at_32_columns_keeps_rows_on_one_line(chip_pin_sale, merchant):
    text = render(build_receipt(chip_pin_sale, **merchant, copy="merchant"), "text", width=32)
    assert "Card            541333******0434" in text.splitlines()
    assert "TOTAL" + " " * 21 + "€75.00" in text.splitlines()
    assert "PIN verified online" in text


def test_long_values_move_under_their_label(make_tx, merchant):
    tx = make_tx(original_id="20261124-ABCDEFGHJKMNPQRSTVWXYZ", type="refund")
    lines = render(build_receipt(tx, **merchant), "text", width=32).splitlines()
    at = lines.index("Original transaction")
    assert lines[at + 1] == " 20261124-ABCDEFGHJKMNPQRSTVWXYZ"  # right-aligned in 32 columns


def test_sandbox_box_only_in_sandbox(contactless_sale, chip_pin_sale, merchant):
    sandbox = render(build_receipt(contactless_sale, **merchant), "text", width=32)
    assert sandbox.count("#        S A N D B O X         #") == 2  # top and bottom: a torn slip still says it
    assert "#  Test transaction - no real  #" in sandbox
    merchant["merchant_id"] = "IE0000123456789"
    real = render(build_receipt(chip_pin_sale, **merchant), "text")
    assert "SANDBOX" not in real and "S A N D B O X" not in real and "#" not in real


@pytest.mark.parametrize(
    ("fixture", "amount", "tip", "total"),
    [("yen_sale", "JP¥1,500", "JP¥150", "JP¥1,650"), ("dinar_sale", "KWD12.345", "KWD0.005", "KWD12.350")],
)
def test_amounts_are_exact_in_text_and_html(request, merchant, fixture, amount, tip, total):
    receipt = build_receipt(request.getfixturevalue(fixture), **merchant)
    text = render(receipt, "text")
    html = render(receipt, "html")
    for figure in (amount, tip, total):
        assert re.search(rf"\s{re.escape(figure)}$", text, re.MULTILINE), figure
        assert f"<td>{figure}</td>" in html


def test_declined_text_receipt(declined_sale, merchant):
    text = render(build_receipt(declined_sale, **merchant), "text")
    for expected in ("DECLINED", "51 Insufficient funds", "Reason: Insufficient funds", "No money was taken.",
                     "PIN entered (online)", "€20.51"):
        assert expected in text
    assert "Auth code" not in text


def test_refund_and_void_text_receipts_name_the_original(refund, void, merchant):
    for tx, title, figure in ((refund, "REFUND", "€5.00"), (void, "VOID", "€14.50")):
        text = render(build_receipt(tx, **merchant), "text")
        assert title in [line.strip() for line in text.splitlines()]
        assert "Original transaction" in text and "20261124-K3Q9FX" in text
        assert figure in text


def test_signature_line_on_the_merchant_copy(make_tx, merchant, cards):
    tx = make_tx(card=cards.visa_swipe_signature)
    merchant_text = render(build_receipt(tx, **merchant, copy="merchant"), "text", width=32)
    customer_text = render(build_receipt(tx, **merchant, copy="customer"), "text", width=32)
    assert "Signature: _____________________" in merchant_text.splitlines()
    assert "Signature: _" not in customer_text
    assert 'class="signature"' in render(build_receipt(tx, **merchant, copy="merchant"), "html")


@pytest.mark.parametrize("fmt", ["text", "html"])
@pytest.mark.parametrize("copy", ["customer", "merchant"])
def test_never_a_full_pan(make_tx, merchant, cards, fmt, copy):
    leaked = cards.visa_contactless.__class__(
        scheme="visa", masked_pan=cards.visa_full_pan, entry_mode="chip", cvm="online_pin"
    )
    out = render(build_receipt(make_tx(card=leaked), **merchant, copy=copy), fmt)
    digits_runs = re.findall(r"\d{11,}", out.replace(" ", ""))
    assert cards.visa_full_pan not in out
    assert not any(run in cards.visa_full_pan for run in digits_runs)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_what_people_typed(make_tx, merchant):
    merchant["merchant_name"] = HOSTILE_NAME
    merchant["merchant_address"] = "<b>1 Main St</b>"
    receipt = build_receipt(make_tx(note=HOSTILE_NOTE), **merchant)
    html = render(receipt, "html")
    parsed = _Collector()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
    assert not any(name.startswith("on") for name, _ in parsed.attributes)
    text = "".join(parsed.text)
    assert HOSTILE_NAME in text  # shown as typed, not dropped
    assert "Note: " + HOSTILE_NOTE in text
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; Sons" in html
    assert "&#x27;quoted&#x27;" in html


def test_html_is_one_self_contained_page(contactless_sale, merchant):
    html = render(build_receipt(contactless_sale, **merchant), "html")
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html
    assert not re.search(r"(src|href)\s*=", html)  # no external images, fonts or stylesheets
    assert "<style>" in html
    for expected in ("The Coffee Cart", "<td>€12.50</td>", "<td>€2.00</td>", "<td>€14.50</td>",
                     "************0010", "<strong>SANDBOX</strong>", "CUSTOMER COPY", "20261124-K3Q9FX",
                     'class="outcome positive">APPROVED'):
        assert expected in html


def test_html_without_sandbox_has_no_banner(chip_pin_sale, merchant):
    merchant["merchant_id"] = "IE0000123456789"
    html = render(build_receipt(chip_pin_sale, **merchant), "html")
    assert "SANDBOX" not in html and 'class="sandbox"' not in html
