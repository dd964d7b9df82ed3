"""Plain text at a fixed width, for terminals without rich, pipes and e-mail."""

from __future__ import annotations

from mpos_cli.receipts.model import Receipt
from mpos_cli.receipts.render.lines import cell_width, receipt_lines

DEFAULT_WIDTH = 42


def render_text(receipt: Receipt, width: int = DEFAULT_WIDTH) -> str:
    out: list[str] = []
    in_box = False
    for line in receipt_lines(receipt, width):
        # Plain text has no big type: a box of '#' makes SANDBOX impossible to miss.
        if line.role == "banner":
            out += ["#" * width, "#" + _centre(" ".join(line.text), width - 2) + "#"]
            in_box = True
            continue
        if line.role == "banner_note":
            out.append("# " + _centre(line.text, width - 4) + " #")
            continue
        if in_box:
            out.append("#" * width)
            in_box = False
        text = _centre(line.text, width) if line.align == "center" else line.text
        out.append(text.rstrip())
    if in_box:
        out.append("#" * width)
    return "\n".join(out) + "\n"


def _centre(text: str, width: int) -> str:
    spare = max(width - cell_width(text), 0)
    left = spare // 2
    return " " * left + text + " " * (spare - left)
