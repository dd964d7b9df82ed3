"""What the hub itself enforces (a terminal cannot change another
terminal's transaction, whatever SQL it sends), its migrations, and the
rules of terminal.id and hub.url."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from tests.hub.conftest import REPO, hub_rows
from tests.hub.postgres_server import PASSWORD


def token_of(term) -> str:
    return (term.home / "hub" / "terminal.token").read_text().strip()


def proven(conn, terminal_id: str, token: str) -> None:
    conn.execute("SELECT set_config('mpos.terminal', %s, true), set_config('mpos.terminal_token', %s, true)",
                 (terminal_id, token))


@pytest.fixture
def two_terminals(hub_url, terminal):
    a, b = terminal("SHOP-A"), terminal("SHOP-B")
    sale = a.ok("charge", "15.00", "--json")
    b.ok("charge", "2.00", "--json")
    for term in (a, b):
        term.ok("sync", "--json")
    return a, b, sale


def test_a_terminal_cannot_change_another_terminals_transaction(hub_url, two_terminals):
    a, b, sale = two_terminals
    before = hub_rows(hub_url)
    b_token = token_of(b)
    attempts = [
        ("UPDATE mpos_hub.transactions SET status = 'voided' WHERE terminal_id = 'SHOP-A'", ()),
        ("DELETE FROM mpos_hub.transactions WHERE terminal_id = 'SHOP-A'", ()),
        ("INSERT INTO mpos_hub.transactions (terminal_id, id, version, seq, business_date, created_at, type, status,"
         " currency, amount_minor, tip_minor, refunded_minor, record)"
         " SELECT 'SHOP-A', 'FORGED', 99, 99, business_date, created_at, type, status, currency, amount_minor,"
         " tip_minor, refunded_minor, record FROM mpos_hub.transactions WHERE terminal_id = 'SHOP-B'", ()),
        # Moving a row to another owner, either way.
        ("UPDATE mpos_hub.transactions SET terminal_id = 'SHOP-B' WHERE terminal_id = 'SHOP-A'", ()),
        ("UPDATE mpos_hub.terminals SET seq = 0, cursor = '{}' WHERE terminal_id = 'SHOP-A'", ()),
        ("UPDATE mpos_hub.terminals SET token_sha256 = NULL WHERE terminal_id = 'SHOP-A'", ()),
    ]
    with psycopg.connect(hub_url) as conn:
        for proof in ((("SHOP-B", b_token)), ("SHOP-A", b_token), None):  # B, B claiming to be A, nobody
            for sql, params in attempts:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with conn.transaction():
                        if proof:
                            proven(conn, *proof)
                        conn.execute(sql, params)
        # B may still change its own rows (the same rule, the other way).
        with conn.transaction():
            proven(conn, "SHOP-B", b_token)
            changed = conn.execute("UPDATE mpos_hub.transactions SET pushed_at = now() WHERE terminal_id = 'SHOP-B'")
            assert changed.rowcount == 1
    assert hub_rows(hub_url) == before
    assert before[("SHOP-A", sale["id"])]["record"]["status"] == "approved"


def test_a_second_terminal_with_the_same_id_is_refused_and_changes_nothing(hub_url, two_terminals, terminal, tmp_path):
    a, _, sale = two_terminals
    before = hub_rows(hub_url)
    impostor = terminal("SHOP-A-2")
    (impostor.home / "config.toml").write_text('"terminal.id" = "SHOP-A"\n')  # a copied config file
    impostor.ok("charge", "15.00", "--json")  # its sale is fine; its sync is not
    result = impostor("sync")
    assert result.exit_code == 2, result
    assert "terminal id SHOP-A is registered at the hub by another terminal" in result.stderr
    assert hub_rows(hub_url) == before
    # The rightful terminal still syncs.
    assert a.ok("refund", sale["id"], "--json")["status"] == "approved"
    assert hub_rows(hub_url)[("SHOP-A", sale["id"])]["record"]["status"] == "refunded"


def test_a_journal_holding_another_terminals_payments_is_not_pushed_under_this_id(hub_url, terminal):
    a = terminal("OLD-ID")
    a.ok("charge", "5.00", "--json")
    # config.toml edited by hand (mpos config set refuses it): the journal says OLD-ID.
    (a.home / "config.toml").write_text('"terminal.id" = "NEW-ID"\n')
    result = a("sync")
    assert result.exit_code == 2, result
    assert "taken as terminal OLD-ID, but terminal.id is now NEW-ID" in result.stderr
    assert not any(key[0] == "NEW-ID" for key in hub_rows(hub_url))


def test_the_hub_creates_and_migrates_its_tables_once(hub_url, terminal):
    from mpos_cli.hub import schema

    a = terminal("M-1")
    with psycopg.connect(hub_url) as conn:
        assert conn.execute("SELECT to_regclass('mpos_hub.migrations')").fetchone()[0] is None
    a.ok("sync", "--json")
    with psycopg.connect(hub_url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM mpos_hub.migrations ORDER BY version")]
        assert versions == [number for number, _, _ in schema.MIGRATIONS]
        applied_at = conn.execute("SELECT applied_at FROM mpos_hub.migrations").fetchall()
    a.ok("sync", "--json")
    with psycopg.connect(hub_url) as conn:
        assert conn.execute("SELECT applied_at FROM mpos_hub.migrations").fetchall() == applied_at
        # A newer mpos migrated the hub: this one must not write into tables it does not know.
        conn.execute("INSERT INTO mpos_hub.migrations (version, name) VALUES (%s, 'from the future')",
                     (schema.LATEST + 1,))
    a.ok("charge", "1.00", "--json")
    result = a("sync")
    assert result.exit_code == 6, result
    assert f"newer than this mpos knows ({schema.LATEST})" in result.stderr and "upgrade mpos" in result.stderr


def test_terminals_syncing_for_the_first_time_at_once_create_the_tables_once(hub_url, terminal):
    terms = [terminal(f"RACE-{n}") for n in range(4)]
    for term in terms:
        term.ok("sandbox", "seed", "--count", "20")
    procs = [subprocess.Popen([sys.executable, "-m", "mpos_cli", "sync", "--json"], cwd=REPO, text=True,
                              env={**os.environ, **term.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for term in terms]
    outcomes = [proc.communicate(timeout=120) + (proc.returncode,) for proc in procs]
    assert [code for _, _, code in outcomes] == [0, 0, 0, 0], outcomes
    assert len(hub_rows(hub_url)) == 80


def test_hub_url_in_config_never_holds_a_password_and_needs_tls_off_loopback(mpos, isolated_home):
    config = isolated_home / "config.toml"
    refused = mpos("config", "set", "hub.url", f"postgresql://mpos:{PASSWORD}@127.0.0.1/shop")
    assert refused.exit_code == 2, refused
    assert "never written to config.toml" in refused.stderr and PASSWORD not in refused.stderr
    assert not config.exists()
    for url in ("postgresql://mpos@db.example.com/shop", "postgresql://mpos@db.example.com/shop?sslmode=prefer",
                "mysql://mpos@127.0.0.1/shop", "https://db.example.com/"):
        result = mpos("config", "set", "hub.url", url)
        assert result.exit_code == 2, (url, result)
        assert not config.exists()
    assert "over TLS" in mpos("config", "set", "hub.url", "postgresql://mpos@db.example.com/shop").stderr
    for url in ("postgresql://mpos@db.example.com/shop?sslmode=verify-full&sslrootcert=/etc/shop-ca.pem",
                "postgresql://mpos@127.0.0.1:5433/shop", "postgresql:///shop?host=/run/postgresql",
                "postgres://mpos@[::1]/shop"):
        result = mpos("config", "set", "hub.url", url)
        assert result.exit_code == 0, (url, result)
    assert 'sslmode=verify-full' not in config.read_text() and "[::1]" in config.read_text()
    # A password written by hand is refused when the file is read (exit 8), never used.
    config.write_text(f'"hub.url" = "postgresql://mpos:{PASSWORD}@127.0.0.1/shop"\n')
    result = mpos("journal", "list")
    assert result.exit_code == 8, result
    assert PASSWORD not in result.stderr


def test_the_password_comes_from_pgpassfile_or_the_keyring(postgres, hub_url, terminal, tmp_path):
    without_password = hub_url.replace(f":{PASSWORD}@", "@")
    a = terminal("PW-1", url=without_password)
    a.ok("charge", "2.00", "--json")
    denied = a("sync")
    assert denied.exit_code == 6, denied
    assert "password" in denied.stderr

    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres.port}:*:mpos:{PASSWORD}\n")
    passfile.chmod(0o600)
    assert a("sync", env={"PGPASSFILE": str(passfile)}).exit_code == 0

    # The OS keyring (service mpos, name hub), through the keyring library's
    # own backend selection (a small file backend for this test).
    store = tmp_path / "keyring.json"
    store.write_text(json.dumps({"mpos/hub": PASSWORD}))
    a.ok("charge", "3.00", "--json")
    result = a.process("sync", "--json", env={"PYTHON_KEYRING_BACKEND": "tests.hub.file_keyring.FileKeyring",
                                              "MPOS_TEST_KEYRING": str(store), "PYTHONPATH": "."})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pushed"] == 1
    assert PASSWORD not in (a.home / "config.toml").read_text()


def test_terminal_id_is_set_once_before_the_first_payment(mpos, isolated_home):
    assert mpos("config", "set", "terminal.id", "FIRST").exit_code == 0
    assert mpos("config", "set", "terminal.id", "SECOND").exit_code == 0  # no payment yet
    sale = mpos("charge", "4.00", "--json").json()
    assert sale["terminal_id"] == "SECOND"
    before = (isolated_home / "config.toml").read_bytes()
    refused = mpos("config", "set", "terminal.id", "THIRD")
    assert refused.exit_code == 2, refused
    assert refused.stderr.startswith("mpos: error: terminal.id cannot change") and len(refused.stderr.splitlines()) == 1
    assert (isolated_home / "config.toml").read_bytes() == before
    back_to_default = mpos("config", "unset", "terminal.id")  # MPOS0001 again: a change too
    assert back_to_default.exit_code == 2, back_to_default
    assert (isolated_home / "config.toml").read_bytes() == before
    assert mpos("config", "set", "terminal.id", "SECOND").exit_code == 0  # the same value is no change
    assert mpos("journal", "show", sale["id"], "--json").json()["terminal_id"] == "SECOND"


def test_all_terminals_needs_a_hub(mpos):
    for args in (("journal", "list"), ("report",), ("export", "--format", "csv")):
        result = mpos(*args, "--all-terminals")
        assert result.exit_code == 2, result
        assert "--all-terminals needs the business's hub" in result.stderr
