"""The person at the terminal (issue 14): forgiving input, defaults, id forms,
--quiet, help without value placeholders on flags, settle's differences."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _sale(mpos, amount="10.00"):
    result = mpos("charge", amount, "--json")
    assert result.exit_code == 0, result
    return result.json()


# -- ids: a unique prefix of the random part, any case, or last ------------------------


def test_an_id_by_the_start_of_its_random_part_in_any_case(mpos):
    tx = _sale(mpos)
    suffix = tx["id"].split("-")[1]
    for typed in (suffix[:4].lower(), suffix, tx["id"].lower()):
        shown = mpos("journal", "show", typed, "--json")
        assert shown.exit_code == 0, (typed, shown)
        assert shown.json()["id"] == tx["id"]


def test_last_names_the_newest_transaction_everywhere_an_id_is_taken(mpos):
    _sale(mpos, "3.00")
    newest = _sale(mpos, "4.00")
    assert mpos("journal", "show", "last", "--json").json()["id"] == newest["id"]
    receipt = mpos("receipt", "last", "--format", "text")
    assert receipt.exit_code == 0 and newest["id"] in receipt.stdout
    refund = mpos("refund", "last", "--amount", "1.00", "--json")
    assert refund.exit_code == 0, refund
    assert refund.json()["original_id"] == newest["id"]
    void = mpos("void", newest["id"].split("-")[1][:5].lower(), "--json")  # a sale partly refunded: refused
    assert void.exit_code == 2 and "only approved, unrefunded sales" in void.stderr


def test_an_ambiguous_prefix_lists_the_candidates_and_exits_2(mpos):
    ids = [_sale(mpos, f"{n}.00")["id"] for n in range(1, 40)]
    by_first = {}
    for tx_id in ids:
        by_first.setdefault(tx_id.split("-")[1][0], []).append(tx_id)
    letter, clash = max(by_first.items(), key=lambda item: len(item[1]))
    assert len(clash) > 1  # 39 ids over 32 letters: some first letter repeats
    result = mpos("journal", "show", letter.lower())
    assert result.exit_code == 2, result
    assert f"matches {len(clash)} transactions" in result.stderr
    for tx_id in clash[:10]:
        assert tx_id in result.stderr
    assert mpos("journal", "show", "ZZZZZZZ").exit_code == 2
    assert mpos("journal", "show", "not-an-id!").exit_code == 2


def test_last_on_an_empty_journal_is_a_usage_error(mpos):
    result = mpos("journal", "show", "last")
    assert result.exit_code == 2 and "empty" in result.stderr


# -- dates: today and yesterday; journal list shows today by default -----------------------


def test_dates_take_today_and_yesterday_and_journal_list_defaults_to_today(mpos, isolated_home):
    from mpos_cli.env import Environment

    mpos("sandbox", "seed", "--count", "30", "--days", "5")
    today_sale = _sale(mpos)
    today = Environment(environ=dict(os.environ)).business_date()
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    listed = mpos("journal", "list", "--json").json()
    assert listed and {tx["created_at"][:10] for tx in listed} == {today}
    assert today_sale["id"] in {tx["id"] for tx in listed}
    assert mpos("journal", "list", "--date", "TODAY", "--json").json() == listed
    assert mpos("journal", "list", "--date", today, "--json").json() == listed
    older = mpos("journal", "list", "--date", "yesterday", "--json").json()
    assert {tx["created_at"][:10] for tx in older} <= {yesterday}
    everything = mpos("journal", "list", "--all", "--json").json()
    assert len(everything) == 31
    report = mpos("report", "--from", "yesterday", "--to", "today", "--json")
    assert report.exit_code == 0, report
    assert mpos("journal", "list", "--date", "tomorrow").exit_code == 2
    assert mpos("journal", "list", "--all", "--date", "today").exit_code == 2


# -- help: flags take no value ------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["charge", "--help"], ["journal", "list", "--help"], ["settle", "--help"]])
def test_help_shows_flags_without_a_value_placeholder(mpos_process, argv):
    result = mpos_process(*argv)
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert re.search(r"--help\s+-h\s+Show this message", result.stdout)


# -- --quiet: nothing on stderr but errors ---------------------------------------------------


def test_quiet_silences_progress_and_notices_but_not_errors(mpos):
    loud = mpos("charge", "5.00", "--no-receipt")
    assert "SANDBOX" in loud.stderr and "Authorising" in loud.stderr
    quiet = mpos("charge", "5.00", "--no-receipt", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert "APPROVED" in quiet.stdout
    also = mpos("--quiet", "settle")
    assert also.exit_code == 0 and also.stderr == "" and "BALANCED" in also.stdout
    declined = mpos("--quiet", "charge", "10.05", "--json")
    assert declined.exit_code == 3
    assert declined.stderr.startswith("mpos: error: declined")


# -- settle: differences printed, a closed batch shown again -------------------------------------


def test_settle_out_of_balance_prints_the_differences_and_show_repeats_them(mpos, monkeypatch):
    _sale(mpos, "10.00")
    from mpos_cli.gateway.client import HttpGateway

    original = HttpGateway.close_batch

    def acquirer_counts_more(self, reference, business_date):
        batch = original(self, reference, business_date)
        batch.totals["EUR"]["sales_minor"] += 999
        batch.totals["EUR"]["net_minor"] += 999
        return batch

    with monkeypatch.context() as patched:
        patched.setattr(HttpGateway, "close_batch", acquirer_counts_more)
        result = mpos("settle", "--quiet")
    assert result.exit_code == 7, result
    assert "difference: EUR sales: journal €10.00, acquirer €19.99" in result.stdout
    batch_id = re.search(r"mpos settle --show (\S+)", result.stderr).group(1)
    again = mpos("settle", "--show", batch_id)
    assert again.exit_code == 7, again
    assert "difference: EUR sales: journal €10.00, acquirer €19.99" in again.stdout
    assert "closed" in again.stdout
    shown = mpos("settle", "--show", "last", "--json")
    assert shown.json()["batch_id"] == batch_id and shown.json()["status"] == "out_of_balance"
    assert mpos("settle", "--show", "B-nothing").exit_code == 2
    # Showing closes nothing: the ledger still holds one batch.
    assert mpos("settle", "--json").json()["status"] == "empty"


def test_reader_status_says_yes_not_true(mpos):
    result = mpos("reader", "status")
    assert result.exit_code == 0, result
    assert re.search(r"connected\s+yes", result.stdout)
    assert "True" not in result.stdout


# -- the amount prompt, on a pseudo-terminal ---------------------------------------------------


def _prompt_session(keys: list[bytes], env_extra: dict | None = None) -> tuple[int, str, str]:
    """Run ``mpos charge --json`` with a pseudo-terminal on stdin and stderr,
    typing ``keys`` one by one as the prompt appears."""
    import fcntl
    import pty
    import select
    import termios
    import time

    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", **(env_extra or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpos_cli", "charge", "--json", "--no-receipt"], env=env, cwd=REPO,
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    screen = b""
    pending = list(keys)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if pending and screen.count(b"Amount (EUR): ") > len(keys) - len(pending):
            os.write(master, pending.pop(0))
        if proc.poll() is not None and not ready:
            break
    stdout, _ = proc.communicate(timeout=30)
    os.close(master)
    return proc.returncode, stdout.decode(), screen.decode("utf-8", "replace")


def test_the_prompt_asks_again_after_a_typo():
    code, stdout, screen = _prompt_session([b"12.5.0\n", b"12,50\n"])
    assert code == 0, screen
    assert "not an amount" in screen and "try again" in screen
    assert json.loads(stdout)["amount_minor"] == 1250
    assert "Traceback" not in screen


def test_the_prompt_gives_up_after_three_bad_tries():
    code, stdout, screen = _prompt_session([b"abc\n", b"x\n", b"1.2.3\n"])
    assert code == 2, screen
    assert screen.count("Amount (EUR): ") == 3 and stdout == ""


def test_ctrl_d_at_the_prompt_charges_nothing(isolated_home):
    code, stdout, screen = _prompt_session([b"\x04"])
    assert code == 4, screen
    assert "nothing was charged" in screen and "Traceback" not in screen
    assert not (isolated_home / "journal").exists() or not any((isolated_home / "journal").glob("*.log"))


def test_ctrl_c_at_the_prompt_charges_nothing(isolated_home):
    code, stdout, screen = _prompt_session([b"\x03"])
    assert code == 130, screen
    assert "cancelled at the amount prompt, nothing was charged" in screen and "Traceback" not in screen
    assert not any((isolated_home / "journal").glob("*.log")) if (isolated_home / "journal").exists() else True


def test_the_status_line_on_a_terminal_counts_down_and_asks_for_the_pin():
    code, stdout, screen = _prompt_session([b"80.00\n"], {"MPOS_SIM_CUSTOMER_SECONDS": "1.2"})
    assert code == 0, screen
    assert re.search(r"present card, \d+ s left, Ctrl-C to cancel", screen)
    assert "customer: enter PIN on the reader" in screen
    assert "Authorising" in screen
