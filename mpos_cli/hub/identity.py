"""``terminal.id``: set once, before the first payment (SPEC §5, §11).

Every transaction records the terminal that took it (``terminal_id``), the
acquirer knows the terminal by it (TID) and the hub keeps each terminal's
transactions under it; so once the journal holds a payment, the id is part
of that payment's record and cannot change. A new id then needs a new home.
"""

from __future__ import annotations

from mpos_cli.errors import StateUnreadable, UsageError


def refuse_terminal_id_change(env, new_value: str) -> None:
    """``UsageError`` (exit 2, nothing written) when this home's journal holds
    a payment and ``new_value`` is not the terminal id it was taken under."""
    from mpos_cli.journal import Journal

    folder = env.data_dir / "journal"
    if not folder.is_dir():
        return
    with Journal(folder) as journal:
        months = journal.months()
        if not months:
            return
        newest_month = next(journal.iter(date_from=f"{months[-1]}-01"), None)
    owner = newest_month.terminal_id if newest_month is not None else None
    if owner is None:
        try:
            owner = env.config["terminal.id"]
        except StateUnreadable:
            owner = None
    if owner == new_value:
        return
    raise UsageError(
        f"terminal.id cannot change: this terminal's journal already holds payments taken as {owner or 'it is'}",
        hint="a terminal id is set once, before the first payment; another id needs its own home (MPOS_HOME)",
    )
