"""The README's hook examples, run as they are written there: a phone
notification (to an ntfy-like HTTP server on loopback), a spreadsheet CSV,
and a pre-charge limit."""

from __future__ import annotations

import csv
import os
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not (shutil.which("jq") and shutil.which("curl")),
                                reason="jq and curl are missing (tests/run.sh installs them)")


def readme_hook(name: str) -> str:
    """The README's ```sh block for hooks/NAME."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(#!/bin/sh\n# hooks/([a-z-]+):.*?)```", text, re.S)
    found = [body for body, hook in blocks if hook == name]
    assert len(found) >= 1, f"no README example for hooks/{name}"
    return found


def install(home, name: str, body: str, as_names=()) -> None:
    folder = home / "hooks"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / name).write_text(body)
    os.chmod(folder / name, 0o700)
    for other in as_names:
        os.symlink(name, folder / other)


class Inbox(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(body.decode())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def inbox():
    Inbox.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Inbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/my-shop-till", Inbox.received
    server.shutdown()
    server.server_close()


def test_the_notification_example(mpos, isolated_home, inbox):
    url, received = inbox
    notification = next(b for b in readme_hook("post-charge") if "ntfy" in b)
    install(isolated_home, "post-charge", notification)
    approved = mpos("charge", "12.50", "--json", env={"NTFY_URL": url})
    assert approved.exit_code == 0, approved
    declined = mpos("charge", "10.05", "--json", env={"NTFY_URL": url})
    assert declined.exit_code == 3, declined
    assert "warning" not in approved.stderr + declined.stderr
    tx = approved.json()
    assert received == [f"EUR 12.5 approved, {tx['card']['scheme']} {tx['id']}"]  # the decline sent nothing


def test_the_spreadsheet_example(mpos, isolated_home, tmp_path):
    sheet = tmp_path / "sales.csv"
    spreadsheet = next(b for b in readme_hook("post-charge") if "csv" in b)
    install(isolated_home, "post-charge", spreadsheet, as_names=("post-refund",))
    env = {"MPOS_SALES_CSV": str(sheet)}
    first = mpos("charge", "20.00", "--tip", "2.00", "--json", env=env).json()
    second = mpos("charge", "7.00", "--card", "chip", "--json", env=env).json()
    refund = mpos("refund", first["id"], "--amount", "5.00", "--json", env=env)
    assert refund.exit_code == 0, refund
    rows = list(csv.DictReader(sheet.open()))
    assert [(r["id"], r["type"], r["status"], r["total_minor"]) for r in rows] == [
        (first["id"], "sale", "approved", "2200"),
        (second["id"], "sale", "approved", "700"),
        (refund.json()["id"], "refund", "approved", "500"),
    ]
    assert rows[0]["tip_minor"] == "200" and rows[1]["card"] == second["card"]["masked_pan"]


def test_the_pre_charge_limit_example(mpos, isolated_home):
    (limit,) = readme_hook("pre-charge")
    install(isolated_home, "pre-charge", limit)
    refused = mpos("charge", "600.00")
    assert refused.exit_code == 2, refused
    assert "refused by the pre-charge hook: over 500.00: use the counter terminal" in refused.stderr
    assert mpos("charge", "500.00", "--json").exit_code == 0
