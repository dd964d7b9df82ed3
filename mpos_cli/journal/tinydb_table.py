"""The one place that knows tinydb's private internals.

tinydb 4 routes every read of a table through ``Table._read_table()`` and
every change through ``Table._update_table(updater)``: private methods,
free to change in any release. The journal needs both: reads should see
the month's live documents (not a fresh copy of the whole month, which is
what the stock path costs), and each change should reach the storage as
one append of what changed (not a rewrite of the month).
``TinyDBTableAdapter`` overrides the two hooks and turns them into two
public methods that a subclass implements:

- ``read_documents()``: the table as ``{str(doc_id): document}``, read-only;
- ``apply_changes(updater)``: run tinydb's ``updater`` on a mutable view of
  the table (keys of ``document_id_class``) and store what it changed.

Everything else the journal uses of tinydb is public (``TinyDB.table_class``,
``Table.storage``, ``Table.document_id_class``, ``Table.clear_cache``,
``Storage``, ``Document``). ``tests/journal/test_tinydb_adapter.py`` checks
that the hooks below still exist with these parameters and that tinydb's
public methods the journal calls still go through them, and that no other
module touches a private tinydb name: a tinydb upgrade that changes them
fails that test, naming the method, instead of silently bypassing the
journal's storage. (pyproject.toml pins ``tinydb>=4.8,<5`` for the same
reason.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from tinydb.table import Table

Updater = Callable[[MutableMapping[Any, dict]], None]


class TinyDBTableAdapter(Table):
    #: tinydb's private ``Table`` methods overridden here, with the
    #: parameters (names, in order) they have in tinydb 4.8 to 4.x.
    PRIVATE_HOOKS: dict[str, tuple[str, ...]] = {
        "_read_table": ("self",),
        "_update_table": ("self", "updater"),
    }
    #: tinydb's public ``Table`` methods the journal calls, and the hook each
    #: must reach (else the journal's storage would be bypassed).
    ROUTES: dict[str, str] = {
        "get": "_read_table",
        "contains": "_read_table",
        "search": "_read_table",
        "insert": "_update_table",
        "insert_multiple": "_update_table",
        "update": "_update_table",
        "remove": "_update_table",
    }

    def read_documents(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def apply_changes(self, updater: Updater) -> None:
        raise NotImplementedError

    def change(self, updater: Updater) -> None:
        """Apply ``updater`` and drop cached query results (what tinydb's
        own ``_update_table`` does after a write)."""
        self.apply_changes(updater)
        self.clear_cache()

    # -- tinydb's private hooks: the only overrides of private tinydb names --

    def _read_table(self) -> Mapping[str, Any]:
        return self.read_documents()

    def _update_table(self, updater: Updater) -> None:
        self.change(updater)
