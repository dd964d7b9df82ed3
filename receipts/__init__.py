"""Receipts: a model built from a transaction, and one renderer per format.

    receipt = build_receipt(tx, merchant_name="The Coffee Cart", copy="customer")
    render(receipt, "text")      # str, 42 columns
    render(receipt, "html")      # str, a self-contained page
    render(receipt, "escpos")    # bytes for a thermal printer
    render(receipt, "rich")      # a rich renderable for a Console
    print_receipt(receipt, "/dev/rfcomm0")

Importing this package is cheap: rich, python-escpos and segno load only
when a renderer that needs them runs.
"""

from mpos_cli.receipts.model import Receipt, Row, build_receipt
from mpos_cli.receipts.printer import (
    DeviceFileTransport,
    PrinterTransport,
    PrinterUnavailable,
    RecordingTransport,
    print_receipt,
)
from mpos_cli.receipts.render import FORMATS, render, rich_text

__all__ = [
    "FORMATS",
    "DeviceFileTransport",
    "PrinterTransport",
    "PrinterUnavailable",
    "Receipt",
    "RecordingTransport",
    "Row",
    "build_receipt",
    "print_receipt",
    "render",
    "rich_text",
]
