"""The journal's dependence on tinydb's private internals, pinned.

If a tinydb upgrade renames, re-signs or stops calling the two private
Table hooks the journal overrides (mpos_cli/journal/tinydb_table.py), these
tests fail and say which method changed, rather than letting tinydb write
around the journal's storage."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import tinydb
from tinydb.storages import MemoryStorage
from tinydb.table import Document, Table

import mpos_cli
from mpos_cli.journal.storage import JournalTable
from mpos_cli.journal.tinydb_table import TinyDBTableAdapter

ADAPTER = "mpos_cli/journal/tinydb_table.py"


def test_the_private_hooks_exist_with_the_expected_parameters():
    problems = []
    for name, expected in TinyDBTableAdapter.PRIVATE_HOOKS.items():
        hook = inspect.getattr_static(Table, name, None)
        if not inspect.isfunction(hook):
            problems.append(f"tinydb.table.Table.{name} is gone (or no longer a plain method)")
            continue
        found = tuple(inspect.signature(hook).parameters)
        if found != expected:
            problems.append(f"tinydb.table.Table.{name}{inspect.signature(hook)}: expected parameters {expected}")
    assert not problems, (
        f"tinydb {tinydb.__version__} changed the private hooks the journal overrides in {ADAPTER}:\n  "
        + "\n  ".join(problems)
        + "\nread the new tinydb Table source and adapt TinyDBTableAdapter (only that class)"
    )


class _Spy(Table):
    """Stock tinydb over memory, recording which private hook each call reaches."""

    calls: list[str] = []

    def _read_table(self):
        self.calls.append("_read_table")
        return super()._read_table()

    def _update_table(self, updater):
        self.calls.append("_update_table")
        return super()._update_table(updater)


def test_the_public_methods_the_journal_calls_still_go_through_the_hooks():
    class SpyDB(tinydb.TinyDB):
        table_class = _Spy

    table = SpyDB(storage=MemoryStorage).table("t")
    table.insert(Document({"a": 1}, doc_id=1))
    calls = {
        "get": lambda: table.get(doc_id=1),
        "contains": lambda: table.contains(doc_id=1),
        "search": lambda: table.search(tinydb.Query().a == 1),
        "insert": lambda: table.insert(Document({"a": 2}, doc_id=2)),
        "insert_multiple": lambda: table.insert_multiple([Document({"a": 3}, doc_id=3)]),
        "update": lambda: table.update({"a": 4}, doc_ids=[1]),
        "remove": lambda: table.remove(doc_ids=[3]),
    }
    assert set(calls) == set(TinyDBTableAdapter.ROUTES), "every route declared by the adapter is tried here"
    problems = []
    for method, call in calls.items():
        hook = TinyDBTableAdapter.ROUTES[method]
        _Spy.calls.clear()
        call()
        if hook not in _Spy.calls:
            problems.append(f"Table.{method} no longer calls Table.{hook} (it called {_Spy.calls or 'neither hook'})")
    assert not problems, (
        f"tinydb {tinydb.__version__} routes around the hooks the journal overrides in {ADAPTER}:\n  "
        + "\n  ".join(problems)
    )


def test_the_adapter_is_the_only_override_of_a_private_tinydb_name():
    private = {name for name in vars(Table) if name.startswith("_") and not name.startswith("__")}
    for cls in (TinyDBTableAdapter, JournalTable):
        overridden = {name for name in vars(cls) if name in private}
        allowed = set(TinyDBTableAdapter.PRIVATE_HOOKS) if cls is TinyDBTableAdapter else set()
        assert overridden <= allowed, f"{cls.__name__} overrides private tinydb names {sorted(overridden - allowed)}"


def test_no_other_module_touches_a_private_tinydb_name():
    """Attribute access to a private name of tinydb's Table or TinyDB
    (``x._storage``, ``x._read_table``...) appears only in the adapter."""
    private = {
        name
        for cls in (Table, tinydb.TinyDB)
        for name in vars(cls)
        if name.startswith("_") and not name.startswith("__")
    }
    private |= {"_storage", "_next_id", "_query_cache", "_tables", "_opened"}  # set in __init__, not class attributes
    root = Path(mpos_cli.__file__).resolve().parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        if rel == ADAPTER:
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.Attribute) and node.attr in private:
                offenders.append(f"{rel}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.FunctionDef) and node.name in private:
                offenders.append(f"{rel}:{node.lineno}: def {node.name}")
    assert not offenders, "private tinydb names outside the adapter:\n  " + "\n  ".join(offenders)


def test_a_journal_table_reads_and_writes_through_the_adapter(jdir):
    """The adapter's public face is what the journal implements and calls."""
    from journal_faults import sale

    from mpos_cli.journal import Journal, locate
    from mpos_cli.journal.fileops import FileOps
    from mpos_cli.journal.lock import JournalLock
    from mpos_cli.journal.storage import JournalDB, MonthStorage

    tx = sale()
    with Journal(jdir) as journal:
        journal.add(tx)
    month, doc_id = locate(tx.id)
    ops = FileOps()
    lock = JournalLock(jdir / "LOCK", 2, ops)
    db = JournalDB(jdir, month, storage=MonthStorage, ops=ops, lock=lock)
    try:
        table = db.table("transactions")
        assert isinstance(table, TinyDBTableAdapter)
        assert set(table.read_documents()) == {str(doc_id)}
        assert table.get(doc_id=doc_id)["id"] == tx.id  # tinydb's get, through _read_table
        table.update({"note": "through tinydb's update"}, doc_ids=[doc_id])  # through _update_table
    finally:
        db.close()
        lock.close()
    with Journal(jdir) as journal:
        assert journal.get(tx.id).note == "through tinydb's update"
