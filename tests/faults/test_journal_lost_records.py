"""A journal that lost records it had acknowledged (SPEC §9), through the CLI,
against a real sandbox acquirer behind the fault proxy: exit 8, every file
byte for byte as it was, and not one request to the acquirer. Before the
high-water mark, a journal cut short into the sale's last record read as a
torn tail, the approved sale as still "authorised", and the next command
reversed it at the acquirer."""

from __future__ import annotations

import os

import pytest

from tests.helpers.agreement import journal_transactions
from tests.helpers.files import file_digests

SEGMENT = "{month}.000001.log"


def damage(journal_dir, month: str, how: str) -> None:
    path = journal_dir / SEGMENT.format(month=month)
    size = path.stat().st_size
    if how == "cut-one-byte":  # into the approved record: it would read as a torn tail
        os.truncate(path, size - 1)
    elif how == "cut-by-half":
        os.truncate(path, size // 2)
    else:
        path.unlink()


@pytest.mark.parametrize("acquirer", ["sandbox"], indirect=True)  # the journal's rule, not an acquirer's
@pytest.mark.parametrize("how", ["cut-one-byte", "cut-by-half", "segment-deleted"])
def test_lost_records_are_exit_8_with_nothing_written_and_no_reversal(mpos, isolated_home, acquirer, faulty, how):
    sale = mpos("charge", "12.50", "--json")
    assert sale.exit_code == 0, sale
    sale = sale.json()
    assert sale["status"] == "approved"
    assert mpos("journal", "list").exit_code == 0  # the open index is now current
    journal_dir = isolated_home / "journal"
    damage(journal_dir, sale["business_date"][:7], how)
    requests_before = len(faulty.log)
    before = file_digests(isolated_home)

    recover = mpos("recover", "--json")
    assert recover.exit_code == 8, recover
    assert recover.stdout == ""
    line = recover.stderr.strip().splitlines()[-1]
    assert line.startswith("mpos: error: journal partition ") and "lost records it had acknowledged" in line, recover

    charge = mpos("charge", "5.00", "--json")
    assert charge.exit_code == 8, charge
    assert "lost records" in charge.stderr

    verify = mpos("journal", "verify", "--json")
    assert verify.exit_code == 8, verify
    report = verify.json()
    assert not report["clean"] and any("lost records" in p for p in report["problems"]), report

    assert faulty.log[requests_before:] == [], "no request may reach the acquirer on the strength of a journal that lost records"
    assert file_digests(isolated_home) == before, "nothing may be written"

    ledger = mpos("sandbox", "ledger", "--json")
    assert ledger.exit_code == 0, ledger
    entries = {e["reference"]: e for e in ledger.json()}
    assert list(entries) == [sale["id"]], "nothing new at the acquirer"
    assert entries[sale["id"]]["status"] == "approved", "the approved sale must not have been reversed"


def test_a_torn_tail_from_a_crash_is_still_accepted(mpos, isolated_home, acquirer, faulty):
    """The same journal with a partial append after its last acknowledged
    record (a crash in mid-write): commands go on, the sale stays approved."""
    sale = mpos("charge", "12.50", "--json").json()
    path = isolated_home / "journal" / SEGMENT.format(month=sale["business_date"][:7])
    with open(path, "ab") as fh:
        fh.write(b'5d1c0a22 {"t":"transactions","put":{"')
    recover = mpos("recover", "--json")
    assert recover.exit_code == 0, recover
    assert recover.json()["resolved"] == []
    verify = mpos("journal", "verify")
    assert verify.exit_code == 0, verify
    second = mpos("charge", "5.00", "--json")
    assert second.exit_code == 0, second
    assert {tx.id: tx.status for tx in journal_transactions(isolated_home)} == {
        sale["id"]: "approved", second.json()["id"]: "approved",
    }
    assert acquirer.entry(sale["id"])["status"] == "approved"
