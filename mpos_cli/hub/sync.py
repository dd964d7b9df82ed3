"""``mpos sync``: this terminal's journal changes up to the hub, the others' down.

Push. The hub keeps, in this terminal's own row, the journal cursor it has
acknowledged (``mpos_cli.journal.changes``). A sync reads the journal's
records after it, a stream, and sends them in batches of ``BATCH``
transactions (each at its newest version in the batch); every batch is one
database transaction that also moves the acknowledged cursor. Killed at any
moment, the hub is before or after a batch; the next sync starts from what
the hub acknowledged, and whatever it sends again the hub already has at
that version, so nothing changes twice. Each terminal writes only its own
rows and a transaction's versions are ordered by its own journal (its
``version``), so terminals never wait for each other.

Pull. Every other terminal's rows changed after the change number this copy
holds (``mpos_cli.hub.copy``) come down in batches, each batch and its new
number in one SQLite transaction.

Memory holds one batch (and one journal record: at most a bulk insert's
few thousand transactions), never the backlog.

What leaves the terminal: the journal record of each transaction, less
``stored_card_data`` (an offline payment's encrypted card blob stays on the
terminal that must forward it).

After a payment (``after_payment``) a sync runs briefly: a short connect
timeout and a time budget, after the result is shown; it never raises, and
a backlog it could not finish is simply left for the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from mpos_cli.errors import MposError, UsageError
from mpos_cli.hub.copy import LocalCopy
from mpos_cli.hub.url import checked_hub_url, hub_configured, shown
from mpos_cli.journal import Cursor
from mpos_cli.storage_util import FILE_MODE, atomic_write, ensure_dir

BATCH = 2000  # transactions per pushed or pulled batch
CONNECT_TIMEOUT_S = 10.0
STATEMENT_TIMEOUT_S = 60.0
# After a payment: libpq's shortest connect timeout (2 s), and a budget after
# which the sync stops between batches (resumed by the next one).
BRIEF_CONNECT_TIMEOUT_S = 2.0
BRIEF_STATEMENT_TIMEOUT_S = 5.0
BRIEF_BUDGET_S = 3.0

# Never sent to the hub (see the module docstring).
KEPT_AT_HOME = ("stored_card_data",)

Notify = Callable[[str], None]


def hub_url(env) -> str:
    """``MPOS_HUB_URL``, else ``hub.url``; empty when there is no hub."""
    from_env = env.environ.get("MPOS_HUB_URL", "")
    if from_env.strip():
        try:
            return checked_hub_url(from_env, allow_password=True, environ=env.environ)
        except ValueError as exc:
            raise UsageError(f"MPOS_HUB_URL: {exc}") from None
    url = env.config["hub.url"]
    if url:
        try:  # checked again with the environment (PGSSLMODE) as libpq will see it
            return checked_hub_url(url, allow_password=False, environ=env.environ)
        except ValueError as exc:
            raise UsageError(f"hub.url: {exc}") from None
    return ""


@dataclass
class OtherTerminal:
    terminal_id: str
    behind: int  # its changes at the hub not in the local copy (as far as last known)
    pushed_at: str | None  # when it last pushed, by the hub's clock

    def to_public(self) -> dict[str, Any]:
        return {"terminal_id": self.terminal_id, "behind": self.behind, "pushed_at": self.pushed_at}


@dataclass
class SyncReport:
    terminal_id: str
    hub: str  # the URL as people may see it
    reachable: bool = False
    problem: str | None = None  # why the sync stopped short (unreachable, refused)
    hint: str | None = None  # what to do about it, when there is more to say than "sync again"
    complete: bool = False  # pushed and pulled everything there was
    pushed: int = 0  # transaction versions sent
    changed: int = 0  # rows the hub changed (0 when it had them all)
    pulled: int = 0  # rows taken into the local copy
    waiting: int = 0  # this terminal's journal writes the hub has not acknowledged
    copy_as_of: datetime | None = None
    others: list[OtherTerminal] = field(default_factory=list)
    seconds: float = 0.0

    def to_public(self) -> dict[str, Any]:
        return {
            "terminal_id": self.terminal_id,
            "hub": self.hub,
            "reachable": self.reachable,
            "complete": self.complete,
            "problem": self.problem,
            "pushed": self.pushed,
            "changed": self.changed,
            "pulled": self.pulled,
            "waiting": self.waiting,
            "copy_as_of": self.copy_as_of.isoformat() if self.copy_as_of else None,
            "terminals": [other.to_public() for other in self.others],
            "seconds": round(self.seconds, 3),
        }


class Sync:
    """One terminal's side of the hub: its token, its state, its copy."""

    def __init__(self, env, journal, notify: Notify = lambda _: None) -> None:
        self.env = env
        self.journal = journal
        self.notify = notify
        self.folder = Path(env.data_dir) / "hub"
        self.terminal_id = env.config["terminal.id"]

    # -- local files ----------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    def copy(self, *, read_only: bool = False) -> LocalCopy:
        return LocalCopy(self.folder / "copy.sqlite", read_only=read_only)

    def token(self) -> str:
        """This terminal's secret at the hub (created on first use, mode 0600)."""
        path = self.folder / "terminal.token"
        try:
            text = path.read_text().strip()
            if text:
                return text
        except FileNotFoundError:
            pass
        ensure_dir(self.folder)
        token = secrets.token_urlsafe(32)
        atomic_write(path, (token + "\n").encode())
        return token

    def _state(self) -> dict:
        try:
            state = json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save_state(self, hub_id: str, cursor: Cursor) -> None:
        known = self._state()
        if (known.get("hub_id"), known.get("terminal_id"), known.get("cursor")) == (
                hub_id, self.terminal_id, cursor.to_json()):
            return  # nothing new acknowledged: no write (a sync runs after every payment)
        state = {"hub_id": hub_id, "terminal_id": self.terminal_id, "cursor": cursor.to_json(),
                 "acknowledged_at": self.env.now().isoformat()}
        atomic_write(self.state_path, json.dumps(state).encode())

    def _lock(self, *, wait: bool) -> int | None:
        """``hub/SYNC.lock``: one sync at a time on this terminal (fd, or None when busy)."""
        ensure_dir(self.folder)
        fd = os.open(self.folder / "SYNC.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    # -- how far behind --------------------------------------------------------------

    def waiting(self, cursor: Cursor) -> int:
        """Journal writes after ``cursor``: what the hub has yet to take."""
        return sum(len(change.documents) for change in self.journal.changes(cursor))

    def acknowledged(self) -> Cursor:
        """The cursor the hub last acknowledged, as this terminal wrote it down
        (the start, when it never synced or its terminal id changed)."""
        state = self._state()
        if state.get("terminal_id") != self.terminal_id:
            return Cursor()
        return Cursor.from_json(state.get("cursor"))

    def standing(self, url: str) -> SyncReport:
        """How far behind this terminal and its copy are, from local files only."""
        report = SyncReport(self.terminal_id, shown(url) if url else "")
        report.waiting = self.waiting(self.acknowledged())
        self._describe_copy(report)
        return report

    def _describe_copy(self, report: SyncReport) -> None:
        copy = self.copy(read_only=True)
        try:
            report.copy_as_of = copy.as_of()
            report.others = [OtherTerminal(t.terminal_id, t.behind, t.pushed_at) for t in copy.terminals()
                             if t.terminal_id != self.terminal_id]
        except Exception:  # sqlite3.Error: an unreadable cache is no copy at all
            report.copy_as_of, report.others = None, []
        finally:
            copy.close()

    # -- the exchange ------------------------------------------------------------------

    def run(self, *, push: bool = True, pull: bool = True, brief: bool = False,
            budget_s: float | None = None) -> SyncReport:
        """Push, then pull. Never raises for the hub being away or refusing:
        the report says so (``reachable``, ``problem``); raises ``UsageError``
        for a bad URL or a terminal id another terminal holds.

        ``brief``: a short connect timeout, no waiting for another sync on
        this terminal, and a time budget (``BRIEF_BUDGET_S`` unless
        ``budget_s`` says otherwise; None with ``brief`` is the default)."""
        from mpos_cli.hub.remote import HubError, TerminalIdTaken, connect

        started = time.monotonic()
        url = hub_url(self.env)
        if not url:
            raise UsageError("no hub is configured", hint="mpos config set hub.url postgresql://USER@HOST/DB")
        lock = self._lock(wait=not brief)
        if lock is None:
            report = self.standing(url)
            report.problem = "another sync is running on this terminal"
            return report
        if budget_s is None and brief:
            budget_s = BRIEF_BUDGET_S
        deadline = started + budget_s if budget_s is not None else None
        report = SyncReport(self.terminal_id, shown(url))
        try:
            try:
                hub = connect(
                    url,
                    timeout_s=BRIEF_CONNECT_TIMEOUT_S if brief else CONNECT_TIMEOUT_S,
                    statement_timeout_s=BRIEF_STATEMENT_TIMEOUT_S if brief else STATEMENT_TIMEOUT_S,
                    application_name=f"mpos {self.terminal_id}"[:63],
                    environ=self.env.environ,
                )
            except HubError as exc:
                report = self.standing(url)
                report.problem, report.hint = exc.message, exc.hint
                return report
            with hub:
                report.reachable = True
                try:
                    hub.migrate()
                    hub_id = hub.hub_id()
                    token = self.token()
                    acknowledged = Cursor.from_json(hub.register(self.terminal_id, token))
                    pushed_all = self._push(hub, hub_id, token, acknowledged, report, deadline) if push else True
                    pulled_all = self._pull(hub, hub_id, report, deadline) if pull else True
                    report.complete = pushed_all and pulled_all
                except TerminalIdTaken:
                    raise
                except HubError as exc:
                    report.problem, report.hint = exc.message, exc.hint
                    report.waiting = self.waiting(self.acknowledged())
            self._describe_copy(report)
            return report
        finally:
            os.close(lock)  # the kernel drops the flock with it
            report.seconds = time.monotonic() - started

    def _push(self, hub, hub_id: str, token: str, acknowledged: Cursor, report: SyncReport,
              deadline: float | None) -> bool:
        """Send the journal's writes after ``acknowledged``; False when the
        time budget ran out first (the rest waits for the next sync)."""
        progress = acknowledged.copy()
        sent = acknowledged.to_json()  # the cursor the hub holds
        batch: dict[str, dict] = {}
        for change in self.journal.changes(progress):
            for document in change.documents:
                record = self._outgoing(document)
                batch[record["id"]] = record  # a later write of the same transaction is a later version
            progress.advance(change.segment, change.position)
            if len(batch) >= BATCH:
                sent = progress.to_json()
                report.changed += hub.push(self.terminal_id, token, list(batch.values()), sent)
                report.pushed += len(batch)
                batch.clear()
                self._save_state(hub_id, progress)
                if deadline is not None and time.monotonic() > deadline:
                    report.waiting = self.waiting(progress.copy())
                    return False
        if batch or progress.to_json() != sent:
            report.changed += hub.push(self.terminal_id, token, list(batch.values()), progress.to_json())
            report.pushed += len(batch)
        self._save_state(hub_id, progress)
        report.waiting = 0
        return True

    def _outgoing(self, document: dict) -> dict:
        record = {key: value for key, value in document.items() if key not in KEPT_AT_HOME}
        owner = record.get("terminal_id")
        if owner is None:
            record["terminal_id"] = self.terminal_id
        elif owner != self.terminal_id:
            raise UsageError(
                f"transaction {record.get('id')} was taken as terminal {owner}, but terminal.id is now "
                f"{self.terminal_id}: this journal belongs to terminal {owner}",
                hint=f"set terminal.id back to {owner} (mpos config set terminal.id {owner})",
            )
        return record

    def _pull(self, hub, hub_id: str, report: SyncReport, deadline: float | None) -> bool:
        copy = self.copy()
        try:
            copy.belongs_to(hub_id, self.terminal_id)
            standings = [s for s in hub.standings() if s.terminal_id != self.terminal_id]
            complete = True
            for standing in standings:
                after = copy.pulled_seq(standing.terminal_id)
                while after < standing.seq:
                    if deadline is not None and time.monotonic() > deadline:
                        complete = False
                        break
                    rows = hub.pull(standing.terminal_id, after, BATCH)
                    # Fewer than a batch: everything committed up to the number the
                    # standings gave (read before this pull) is now in hand.
                    reached = rows[-1][0] if len(rows) == BATCH else max(standing.seq, rows[-1][0] if rows else 0)
                    report.pulled += copy.apply(standing.terminal_id, rows, reached)
                    after = reached
                if not complete:
                    break
            copy.note_standings(standings, pulled_at=self.env.now() if complete else None)
            return complete
        finally:
            copy.close()


def after_payment(env, journal, notify: Notify) -> SyncReport | None:
    """The brief sync after a payment (see the module docstring): says one
    line only when the hub could not take everything. Never raises."""
    try:
        if not hub_configured(env):
            return None
        report = Sync(env, journal, notify).run(brief=True)
    except (MposError, OSError) as exc:
        text = exc.one_line() if isinstance(exc, MposError) else str(exc)
        notify(f"hub: not synced ({text}); the payment is safe here, mpos sync retries")
        return None
    except KeyboardInterrupt:
        notify("hub: sync interrupted; the payment is safe here, mpos sync retries")
        return None
    except Exception as exc:  # a bug in syncing must never turn a taken payment into a failure
        notify(f"hub: not synced ({type(exc).__name__}: {exc}); the payment is safe here, mpos sync retries")
        return None
    if report.problem:
        notify(f"hub: {report.problem}; {report.waiting} changes of this terminal wait for mpos sync "
               "(the payment is safe here)")
    elif not report.complete:
        notify(f"hub: {report.waiting} changes of this terminal still to sync (mpos sync finishes it)")
    return report
