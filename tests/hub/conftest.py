"""Fixtures for the hub tests: one real PostgreSQL server for the whole
session, a fresh hub database per test, and terminals (each its own home)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[2]




@pytest.fixture
def hub_url(postgres):
    """A fresh, empty hub database: its URL, password included."""
    if not postgres.running:
        postgres.start()
    return postgres.new_database()


class Terminal:
    """One terminal: its own home, its terminal id, the hub's URL."""

    def __init__(self, home: Path, terminal_id: str, hub_url: str, mpos) -> None:
        self.home = home
        self.terminal_id = terminal_id
        self.hub_url = hub_url
        self._mpos = mpos
        result = self("config", "set", "terminal.id", terminal_id)
        assert result.exit_code == 0, result

    @property
    def env(self) -> dict[str, str]:
        return {"MPOS_HOME": str(self.home), "MPOS_HUB_URL": self.hub_url}

    def __call__(self, *args: str, env: dict | None = None):
        return self._mpos(*args, env={**self.env, **(env or {})})

    def ok(self, *args: str, expect: int = 0):
        result = self(*args)
        assert result.exit_code == expect, result
        return result.json() if "--json" in args and result.stdout.strip() else result

    def process(self, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        environ = {**os.environ, **self.env, **(env or {})}
        return subprocess.run([sys.executable, "-m", "mpos_cli", *args], env=environ, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)

    def journal_records(self) -> dict[str, dict]:
        """Every transaction in this terminal's journal, as the hub should hold it."""
        from mpos_cli.journal import Journal

        with Journal(self.home / "journal") as journal:
            return {tx.id: tx.to_record() for tx in journal.iter()}


@pytest.fixture
def terminal(tmp_path, hub_url, mpos):
    """``terminal("A")``: a new terminal with its own home, on this test's hub."""

    def make(terminal_id: str, url: str | None = None) -> Terminal:
        return Terminal(tmp_path / f"home-{terminal_id}", terminal_id, url or hub_url, mpos)

    return make


def hub_rows(url: str) -> dict[tuple[str, str], dict]:
    """The hub's transactions: (terminal_id, id) -> (version, record)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT terminal_id, id, version, record FROM mpos_hub.transactions").fetchall()
    return {(terminal_id, tx_id): {"version": version, "record": record} for terminal_id, tx_id, version, record in rows}
