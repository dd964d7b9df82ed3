"""The business-wide views (``--all-terminals``, SPEC §11): this terminal's
journal and the other terminals' transactions, merged in order of business
day and time, streamed.

Before reading, the other terminals' changes are pulled from the hub
(briefly: a short connect timeout, nothing pushed). When the hub cannot be
reached the local copy is read as it is and the view says how fresh it is.
This terminal's own transactions always come from its journal, so they are
never stale.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Iterator

from mpos_cli.errors import UsageError
from mpos_cli.hub.sync import Sync
from mpos_cli.hub.url import hub_configured
from mpos_cli.transaction import Transaction


@dataclass
class BusinessView:
    terminal_id: str
    others: list[str] = field(default_factory=list)  # the other terminals in the copy
    as_of: datetime | None = None  # when the copy was last complete
    fresh: bool = False  # pulled from the hub just now
    problem: str | None = None  # why not

    def terminals(self) -> list[str]:
        return sorted({self.terminal_id, *self.others})

    def to_public(self) -> dict:
        return {
            "terminals": self.terminals(),
            "fresh": self.fresh,
            "others_as_of": self.as_of.isoformat() if self.as_of else None,
            "problem": self.problem,
        }


def open_view(env, journal, notify: Callable[[str], None]) -> BusinessView:
    """Refresh the copy if the hub answers; say how fresh it is if not."""
    if not hub_configured(env):
        raise UsageError("--all-terminals needs the business's hub",
                         hint="mpos config set hub.url postgresql://USER@HOST/DB (man mpos-sync)")
    sync = Sync(env, journal, notify)
    report = sync.run(push=False, brief=True, budget_s=math.inf)
    view = BusinessView(sync.terminal_id, [o.terminal_id for o in report.others], report.copy_as_of,
                        fresh=report.reachable and report.complete, problem=report.problem)
    if not view.fresh:
        if view.as_of is None:
            notify(f"hub: {view.problem or 'not reached'}; no copy of the other terminals yet: "
                   "this terminal only")
        else:
            age = env.now() - view.as_of
            notify(f"hub: {view.problem or 'not reached'}; other terminals as of "
                   f"{view.as_of:%Y-%m-%d %H:%M} ({_age(age.total_seconds())} ago)")
    return view


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, int(seconds))} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def transactions(env, journal, date_from: str | None, date_to: str | None,
                 statuses: Iterable[str] | None = None) -> Iterator[Transaction]:
    """Every terminal's transactions in the range, by business day and time."""
    wanted = set(statuses) if statuses is not None else None
    own = journal.iter(date_from, date_to, wanted)
    copy = Sync(env, journal).copy(read_only=True)
    try:
        others = copy.iter(date_from, date_to, wanted)
        yield from heapq.merge(own, others, key=lambda tx: (tx.business_date, tx.created_at))
    finally:
        copy.close()
