"""One connection to the hub (psycopg 3): register, push, pull, standing.

Every write happens in one database transaction that also records how far
it got (this terminal's journal cursor, in its own ``terminals`` row), so a
connection lost or a process killed at any moment leaves the hub either
before or after a batch, never halfway, and the next sync resumes from what
the hub acknowledged. See ``mpos_cli.hub.schema`` for who may write what.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from mpos_cli.closing import ClosedOnExit
from mpos_cli.errors import GatewayError, UsageError
from mpos_cli.hub import schema
from mpos_cli.hub.url import KEYRING_NAME, KEYRING_SERVICE, shown


class HubError(GatewayError):
    """The hub is unreachable or refused us (exit 6, as SPEC §12 counts the hub
    with the acquirer)."""


class TerminalIdTaken(UsageError):
    """Another terminal registered this terminal id at the hub."""


# Columns the hub derives from each pushed record (so a bookkeeper's SQL
# needs no JSON); the record itself is kept whole in ``record``.
UPSERT = """
INSERT INTO mpos_hub.transactions AS t
    (terminal_id, id, version, seq, business_date, created_at, type, status, currency,
     amount_minor, tip_minor, refunded_minor, record)
SELECT %(terminal)s, i.id, i.version, %(base)s + i.n,
       (i.record->>'business_date')::date, (i.record->>'created_at')::timestamptz,
       i.record->>'type', i.record->>'status', i.record->>'currency',
       (i.record->>'amount_minor')::bigint, (i.record->>'tip_minor')::bigint,
       coalesce((i.record->>'refunded_minor')::bigint, 0), i.record
FROM incoming i
ON CONFLICT (terminal_id, id) DO UPDATE SET
    version = EXCLUDED.version, seq = EXCLUDED.seq, business_date = EXCLUDED.business_date,
    created_at = EXCLUDED.created_at, type = EXCLUDED.type, status = EXCLUDED.status,
    currency = EXCLUDED.currency, amount_minor = EXCLUDED.amount_minor, tip_minor = EXCLUDED.tip_minor,
    refunded_minor = EXCLUDED.refunded_minor, record = EXCLUDED.record, pushed_at = now()
WHERE EXCLUDED.version > t.version
   OR (EXCLUDED.version = t.version AND EXCLUDED.record IS DISTINCT FROM t.record)
"""


@dataclass
class TerminalStanding:
    """One terminal as the hub knows it."""

    terminal_id: str
    seq: int  # its latest change number
    pushed_at: datetime | None
    registered_at: datetime


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# libpq's environment variables that mpos's own environment may carry (the
# tests' in-process runs have an environment of their own): parameter name
# for each, used when the URL does not say.
LIBPQ_ENVIRONMENT = {"PGPASSFILE": "passfile", "PGSSLMODE": "sslmode", "PGSSLROOTCERT": "sslrootcert"}


def connect(url: str, *, timeout_s: float, statement_timeout_s: float, application_name: str,
            environ: dict[str, str] | None = None) -> "Hub":
    """Open the hub. The password comes from the URL, else libpq's own
    sources (``PGPASSFILE``, ``~/.pgpass``), else the OS keyring, asked only
    when the server wants a password the others did not give."""
    from urllib.parse import parse_qs, urlsplit

    import psycopg

    options = {
        "connect_timeout": max(2, int(round(timeout_s))),  # libpq counts whole seconds, 2 at least
        "application_name": application_name,
        "options": f"-c statement_timeout={int(statement_timeout_s * 1000)}",
    }
    given = parse_qs(urlsplit(url).query)
    for variable, parameter in LIBPQ_ENVIRONMENT.items():
        if (environ or {}).get(variable) and parameter not in given:
            options[parameter] = environ[variable]
    try:
        try:
            conn = psycopg.connect(url, autocommit=False, **options)
        except psycopg.OperationalError as exc:
            password = _keyring_password() if _wants_password(exc) else None
            if password is None:
                raise
            conn = psycopg.connect(url, autocommit=False, password=password, **options)
    except psycopg.Error as exc:
        raise HubError(f"cannot reach the hub at {shown(url)}: {_reason(exc)}") from None
    return Hub(conn, url)


def _wants_password(exc: Exception) -> bool:
    text = str(exc)
    return "no password supplied" in text or "password authentication failed" in text


def _keyring_password() -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, KEYRING_NAME)
    except Exception:  # no keyring backend on a headless box: not an error
        return None


def _reason(exc: Exception) -> str:
    """libpq's reason, short: its first line, after the last "failed: "
    (what failed is said by the caller), without the severity."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = text.rsplit("failed: ", 1)[-1]
    for severity in ("FATAL:", "ERROR:"):
        if text.startswith(severity):
            text = text[len(severity):].strip()
    return text


class Hub(ClosedOnExit):
    def __init__(self, conn, url: str) -> None:
        self.conn = conn
        self.url = url
        self._incoming = False

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass

    def _run(self, what: str, work):
        """Run ``work()``; a database failure becomes a ``HubError`` (the
        transaction is rolled back: nothing of it stays)."""
        import psycopg

        try:
            return work()
        except psycopg.errors.InsufficientPrivilege as exc:
            self._rollback()
            raise HubError(f"the hub refused to {what}: {_reason(exc)}") from None
        except psycopg.Error as exc:
            self._rollback()
            raise HubError(f"the hub failed to {what}: {_reason(exc)}") from None

    def _rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception:
            pass

    # -- schema and identity -------------------------------------------------------

    def migrate(self) -> list[int]:
        def work():
            try:
                return schema.migrate(self.conn)
            except schema.HubTooNew as exc:
                raise HubError(
                    f"the hub's tables are at version {exc.version}, newer than this mpos knows ({schema.LATEST})",
                    hint="upgrade mpos on this terminal",
                ) from None

        return self._run("create or migrate its tables", work)

    def hub_id(self) -> str:
        def work():
            row = self.conn.execute("SELECT hub_id::text FROM mpos_hub.hub").fetchone()
            self.conn.commit()
            return row[0]

        return self._run("say who it is", work)

    def _prove(self, terminal_id: str, token: str) -> None:
        """Inside the current transaction: this session is ``terminal_id``."""
        self.conn.execute(
            "SELECT set_config('mpos.terminal', %s, true), set_config('mpos.terminal_token', %s, true)",
            (terminal_id, token),
        )

    def register(self, terminal_id: str, token: str) -> dict:
        """Register this terminal (first sync), or check that the id is ours.
        Returns the acknowledged journal cursor (JSON)."""
        digest = token_digest(token)

        def work():
            with self.conn.transaction():
                self._prove(terminal_id, token)
                self.conn.execute(
                    "INSERT INTO mpos_hub.terminals (terminal_id, token_sha256) VALUES (%s, %s) "
                    "ON CONFLICT (terminal_id) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256 "
                    "WHERE mpos_hub.terminals.token_sha256 IS NULL",
                    (terminal_id, digest),
                )
                row = self.conn.execute(
                    "SELECT token_sha256, cursor, registered_at FROM mpos_hub.terminals WHERE terminal_id = %s",
                    (terminal_id,),
                ).fetchone()
            return row

        row = self._run("register this terminal", work)
        if bytes(row[0]) != digest:
            raise TerminalIdTaken(
                f"terminal id {terminal_id} is registered at the hub by another terminal "
                f"(since {row[2]:%Y-%m-%d})",
                hint="each terminal needs its own terminal.id, set before its first payment; "
                     "if this one replaces that terminal, see REPLACING A TERMINAL in man mpos-sync",
            )
        return row[1] or {}

    # -- pushing ---------------------------------------------------------------------

    def push(self, terminal_id: str, token: str, records: list[dict], cursor: dict) -> int:
        """Upsert ``records`` (this terminal's, each the newest state the
        journal holds) and record ``cursor`` as acknowledged, in one
        transaction. Returns how many rows changed at the hub."""

        def work():
            with self.conn.transaction():
                self._prove(terminal_id, token)
                if not self._incoming:
                    self.conn.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS incoming (n integer, id text, version integer, record jsonb)"
                        " ON COMMIT DELETE ROWS"
                    )
                    self._incoming = True
                base = self.conn.execute(
                    "SELECT seq FROM mpos_hub.terminals WHERE terminal_id = %s FOR UPDATE", (terminal_id,)
                ).fetchone()[0]
                changed = 0
                if records:
                    with self.conn.cursor() as cur, cur.copy("COPY incoming (n, id, version, record) FROM STDIN") as copy:
                        for n, record in enumerate(records, 1):
                            copy.write_row((n, record["id"], record.get("version") or 0, json.dumps(record)))
                    changed = self.conn.execute(UPSERT, {"terminal": terminal_id, "base": base}).rowcount
                self.conn.execute(
                    "UPDATE mpos_hub.terminals SET seq = %s, cursor = %s, pushed_at = now() WHERE terminal_id = %s",
                    (base + len(records), json.dumps(cursor), terminal_id),
                )
            return changed

        return self._run("take this terminal's changes", work)

    # -- pulling ---------------------------------------------------------------------

    def standings(self) -> list[TerminalStanding]:
        def work():
            rows = self.conn.execute(
                "SELECT terminal_id, seq, pushed_at, registered_at FROM mpos_hub.terminals ORDER BY terminal_id"
            ).fetchall()
            self.conn.commit()
            return [TerminalStanding(*row) for row in rows]

        return self._run("list the terminals", work)

    def pull(self, terminal_id: str, after_seq: int, limit: int) -> list[tuple[int, dict]]:
        """Up to ``limit`` of ``terminal_id``'s rows changed after ``after_seq``,
        in change order: ``(seq, record)``."""

        def work():
            rows = self.conn.execute(
                "SELECT seq, record FROM mpos_hub.transactions WHERE terminal_id = %s AND seq > %s "
                "ORDER BY seq LIMIT %s",
                (terminal_id, after_seq, limit),
            ).fetchall()
            self.conn.commit()
            return rows

        return self._run("send the other terminals' changes", work)
