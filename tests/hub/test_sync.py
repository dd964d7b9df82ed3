"""Several terminals, one business (SPEC §11), on a real PostgreSQL hub:
three terminals (three homes) take sales, refunds and voids, some while the
hub is stopped; they sync in every order; the hub holds the union of their
journals, each terminal's copy holds the others', and the business report
is the sum of the terminals' own reports."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from tests.hub.conftest import hub_rows

METRICS = ("sales_count", "sales_minor", "tips_minor", "refunds_count", "refunds_minor", "net_minor",
           "voids_count", "declines_count", "offline_count", "offline_minor")


def trade(term, *, label: str) -> None:
    """A little of everything: sales (one with a tip, one in JPY), a partial
    refund, a void, a decline."""
    sale = term.ok("charge", "12.50", "--tip", "1", "--json", "--note", label)
    refunded = term.ok("charge", "20", "--json")
    term.ok("refund", refunded["id"], "--amount", "5", "--json")
    voided = term.ok("charge", "8", "--card", "chip", "--json")
    term.ok("void", voided["id"], "--json")
    term.ok("charge", "10.51", "--json", expect=3)  # declined: a journal change too
    term.ok("charge", "1500", "--currency", "JPY", "--json")
    assert sale["terminal_id"] == term.terminal_id


def public_rows(records) -> dict[tuple[str, str], dict]:
    from mpos_cli.transaction import Transaction

    return {(r["terminal_id"], r["id"]): Transaction.from_record(r).to_public() for r in records}


def union_of_journals(*terminals) -> dict[tuple[str, str], dict]:
    """What the hub must hold: every journal's records, less what stays at
    home (an offline payment's encrypted card blob)."""
    out = {}
    for term in terminals:
        for tx_id, record in term.journal_records().items():
            record.pop("stored_card_data")
            out[(term.terminal_id, tx_id)] = record
    return out


def test_three_terminals_trade_some_while_the_hub_is_stopped_and_sync_in_every_order(postgres, hub_url, terminal):
    a, b, c = terminal("STALL-A"), terminal("STALL-B"), terminal("STALL-C")
    for term in (a, b, c):
        trade(term, label="hub up")  # each payment syncs by itself afterwards
    assert {key[0] for key in hub_rows(hub_url)} == {"STALL-A", "STALL-B", "STALL-C"}

    postgres.stop()
    try:
        for term in (a, b, c):
            started = time.monotonic()
            result = term("charge", "4.20", "--json")
            assert result.exit_code == 0, result  # the sale does not care that the hub is away
            assert result.json()["status"] == "approved"
            assert "hub:" in result.stderr and "the payment is safe here" in result.stderr
            assert time.monotonic() - started < 30
            trade(term, label="hub down")
        down = a("sync", "--json")
        assert down.exit_code == 6, down
        assert down.json()["reachable"] is False and down.json()["waiting"] > 0
        assert "cannot reach the hub" in down.stderr
        # The business view still works, from the copy, and says how old it is.
        offline_view = a("journal", "list", "--all-terminals", "--json")
        assert offline_view.exit_code == 0, offline_view
        assert "other terminals as of" in offline_view.stderr
    finally:
        postgres.start()

    expected = union_of_journals(a, b, c)
    assert len(expected) == 3 * (2 * 7 + 1)  # per terminal: trade() twice (7 transactions each) and the 4.20

    # Sync in every order, each order on a fresh hub: the same hub every time.
    hubs = []
    for order in itertools.permutations((a, b, c)):
        url = postgres.new_database()
        for term in order * 2:  # twice round, so everyone has pulled everyone
            report = _sync(term, url)
            assert report["complete"] and report["waiting"] == 0
        rows = hub_rows(url)
        assert {key: row["record"] for key, row in rows.items()} == expected
        hubs.append({key: (row["version"], row["record"]) for key, row in rows.items()})
    assert all(hub == hubs[0] for hub in hubs)

    # The original hub catches up too, and every terminal sees the whole business.
    for term in (c, a, b, c):
        _sync(term, hub_url)
    assert {key: row["record"] for key, row in hub_rows(hub_url).items()} == expected
    everyone = public_rows(expected.values())
    for term in (a, b, c):
        listed = term.ok("journal", "list", "--all-terminals", "--json")
        assert {(tx["terminal_id"], tx["id"]): tx for tx in listed} == everyone
        exported = term("export", "--format", "json", "--all-terminals")
        assert exported.exit_code == 0, exported
        assert {(tx["terminal_id"], tx["id"]) for tx in json.loads(exported.stdout)} == set(everyone)

    # The business report is the sum of the terminals' own reports.
    own = {term.terminal_id: term.ok("report", "--json")["currencies"] for term in (a, b, c)}
    business = b.ok("report", "--all-terminals", "--json")
    assert business["report"] == "business" and business["terminals"] == ["STALL-A", "STALL-B", "STALL-C"]
    assert set(business["currencies"]) == {"EUR", "JPY"}
    for code, section in business["currencies"].items():
        for metric in METRICS:
            assert section["totals"][metric] == sum(own[t][code]["totals"][metric] for t in own), (code, metric)
        for terminal_id in own:
            assert section["by_terminal"][terminal_id] == own[terminal_id][code]["totals"]
        for name in ("by_scheme", "by_entry_mode", "by_hour"):
            for key, tally in section[name].items():
                for metric in METRICS:
                    assert tally[metric] == sum(own[t][code][name].get(key, {}).get(metric, 0) for t in own)
    assert business["currencies"]["EUR"]["totals"]["refunds_count"] == 6
    assert business["currencies"]["EUR"]["totals"]["voids_count"] == 6
    human = a("report", "--all-terminals")
    assert human.exit_code == 0 and "Business report" in human.stdout and "STALL-C" in human.stdout


def _sync(term, url: str) -> dict:
    result = term("sync", "--json", env={"MPOS_HUB_URL": url})
    assert result.exit_code == 0, result
    return result.json()


def test_other_terminals_are_read_only_here(hub_url, terminal):
    a, b = terminal("TILL-1"), terminal("TILL-2")
    sale = a.ok("charge", "9.99", "--json")
    b.ok("sync", "--json")
    assert sale["id"] in {tx["id"] for tx in b.ok("journal", "list", "--all-terminals", "--json")}
    for args in (("refund", sale["id"]), ("void", sale["id"])):
        result = b(*args)
        assert result.exit_code == 2, result  # not in this terminal's journal
    assert b.ok("journal", "list", "--json") == []


def test_a_sync_says_how_far_behind_this_terminal_and_the_others_are(postgres, hub_url, terminal):
    a, b = terminal("A1"), terminal("B1")
    a.ok("charge", "3.00", "--json")
    b.ok("charge", "4.00", "--json")
    first = a.ok("sync", "--json")
    assert first["terminals"] == [{"terminal_id": "B1", "behind": 0, "pushed_at": first["terminals"][0]["pushed_at"]}]
    text = a.ok("sync").stdout
    assert "This terminal (A1): up to date at the hub" in text and "Terminal B1: up to date here" in text

    b.ok("sandbox", "seed", "--count", "30")  # seeding takes no payment: no sync of its own
    postgres.stop()
    try:
        a.ok("sandbox", "seed", "--count", "12")
        down = a("sync")
        assert down.exit_code == 6, down
        assert "12 journal changes not yet at the hub" in down.stdout
        assert down.stderr.startswith("mpos: error: cannot reach the hub at postgresql://mpos:***@127.0.0.1:")
        assert "hub-pass" not in down.stdout + down.stderr
    finally:
        postgres.start()
    b.ok("sync", "--json")
    back = a.ok("sync", "--json")
    assert (back["pushed"], back["pulled"], back["waiting"]) == (12, 30, 0)


def test_a_backlog_bigger_than_the_after_payment_budget_is_finished_by_mpos_sync(hub_url, terminal):
    from mpos_cli.hub import sync as sync_mod

    a = terminal("BIG")
    a.ok("sandbox", "seed", "--count", str(3 * sync_mod.BATCH))
    sale = a("charge", "5.00", "--json", env={})
    assert sale.exit_code == 0
    # However far the brief sync got, mpos sync finishes, and the hub has everything.
    a.ok("sync", "--json")
    assert len(hub_rows(hub_url)) == 3 * sync_mod.BATCH + 1


def test_an_offline_payments_sealed_card_data_never_leaves_the_terminal(hub_url, terminal, tmp_path):
    from tests.hub.postgres_server import free_port

    a = terminal("OFF-1")
    dead_acquirer = {"MPOS_GATEWAY_URL": f"http://127.0.0.1:{free_port()}", "MPOS_GATEWAY_KEY": "k", "MPOS_GATEWAY_TIMEOUT": "1"}
    stored = a("charge", "6.00", "--json", env=dead_acquirer)
    assert stored.exit_code == 0, stored
    assert stored.json()["status"] == "offline"
    blob = a.journal_records()[stored.json()["id"]]["stored_card_data"]
    assert blob
    a.ok("sync", "--json")
    (row,) = hub_rows(hub_url).values()
    assert "stored_card_data" not in row["record"] and row["record"]["status"] == "offline"
    import psycopg

    with psycopg.connect(hub_url) as conn:
        dump = json.dumps(conn.execute("SELECT array_agg(record) FROM mpos_hub.transactions").fetchone()[0])
    assert blob not in dump
