"""The hub's tables, created and migrated by its clients (no admin step).

Everything lives in one schema, ``mpos_hub``. ``mpos_hub.migrations`` lists
the migrations applied; ``migrate`` applies the missing ones in order, each
in its own transaction, under a transaction-level advisory lock so that two
terminals syncing for the first time at once do not both create the tables.
A hub migrated by a newer mpos (a version this one does not know) is
refused: an older client must not write into tables it does not understand.

Who may write what is enforced by the database itself, not by the client:

- every terminal registers its ``terminal_id`` with the SHA-256 of a secret
  token kept in its home (``hub/terminal.token``, mode 0600);
- a session proves which terminal it is by setting ``mpos.terminal`` and
  ``mpos.terminal_token`` (``set_config``, local to the transaction);
- statement triggers on ``transactions`` refuse any insert, update or delete
  touching a row whose ``terminal_id`` is not the proven one, and a row
  trigger on ``terminals`` does the same for the registration rows. A
  terminal can therefore never change another terminal's transaction,
  whatever SQL it sends (only the database owner, by disabling triggers,
  can).

Each terminal's changes are numbered by ``terminals.seq``: a push locks its
own ``terminals`` row (never another terminal's), so one terminal's pushes
commit in the order of their numbers and a reader pulling "after number N"
never misses one. The hub keeps each transaction's highest ``version``.
"""

from __future__ import annotations

SCHEMA = "mpos_hub"
# pg_advisory_xact_lock key while migrating: "mposhub" in ASCII.
MIGRATION_LOCK = 0x6D706F73687562

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "terminals, transactions, ownership",
        """
CREATE TABLE mpos_hub.hub (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    hub_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mpos_hub.hub (hub_id) VALUES (gen_random_uuid());

CREATE TABLE mpos_hub.terminals (
    terminal_id text PRIMARY KEY CHECK (terminal_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
    token_sha256 bytea,              -- NULL: released by an administrator, the next claimant takes it
    seq bigint NOT NULL DEFAULT 0,   -- the last change number given to this terminal's rows
    cursor jsonb NOT NULL DEFAULT '{}'::jsonb,  -- how far into its journal the hub has acknowledged
    registered_at timestamptz NOT NULL DEFAULT now(),
    pushed_at timestamptz
);

CREATE TABLE mpos_hub.transactions (
    terminal_id text NOT NULL REFERENCES mpos_hub.terminals,
    id text NOT NULL,
    version integer NOT NULL,
    seq bigint NOT NULL,
    business_date date NOT NULL,
    created_at timestamptz NOT NULL,
    type text NOT NULL,
    status text NOT NULL,
    currency text NOT NULL,
    amount_minor bigint NOT NULL,
    tip_minor bigint NOT NULL,
    refunded_minor bigint NOT NULL,
    record jsonb NOT NULL,
    pushed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (terminal_id, id)
);
CREATE INDEX transactions_by_seq ON mpos_hub.transactions (terminal_id, seq);
CREATE INDEX transactions_by_day ON mpos_hub.transactions (business_date);

-- Which terminal this session has proven to be (NULL: none).
CREATE FUNCTION mpos_hub.session_terminal() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT t.terminal_id FROM mpos_hub.terminals t
    WHERE t.terminal_id = current_setting('mpos.terminal', true)
      AND t.token_sha256 = sha256(convert_to(coalesce(current_setting('mpos.terminal_token', true), ''), 'UTF8'))
$$;

CREATE FUNCTION mpos_hub.refuse_strangers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    me text := mpos_hub.session_terminal();
    stranger text;
BEGIN
    SELECT terminal_id INTO stranger FROM touched WHERE terminal_id IS DISTINCT FROM me LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'terminal % may not write the transactions of terminal %',
            coalesce(me, '(not proven)'), stranger
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER owner_inserts AFTER INSERT ON mpos_hub.transactions
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION mpos_hub.refuse_strangers();
CREATE TRIGGER owner_updates_from AFTER UPDATE ON mpos_hub.transactions
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION mpos_hub.refuse_strangers();
CREATE TRIGGER owner_updates_to AFTER UPDATE ON mpos_hub.transactions
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION mpos_hub.refuse_strangers();
CREATE TRIGGER owner_deletes AFTER DELETE ON mpos_hub.transactions
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION mpos_hub.refuse_strangers();

-- A registration row changes only by its own terminal, or when it was
-- released (token NULL) and is claimed again.
CREATE FUNCTION mpos_hub.guard_terminal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.terminal_id <> OLD.terminal_id THEN
        RAISE EXCEPTION 'a terminal id never changes' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.token_sha256 IS NOT NULL AND OLD.terminal_id IS DISTINCT FROM mpos_hub.session_terminal() THEN
        RAISE EXCEPTION 'terminal % is registered by another terminal', OLD.terminal_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER guard_terminal BEFORE UPDATE OR DELETE ON mpos_hub.terminals
    FOR EACH ROW EXECUTE FUNCTION mpos_hub.guard_terminal();
""",
    ),
]

LATEST = MIGRATIONS[-1][0]


class HubTooNew(Exception):
    """The hub was migrated by a newer mpos."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def applied_version(conn) -> int:
    """The hub's schema version (0: no mpos tables yet)."""
    row = conn.execute(
        "SELECT to_regclass('mpos_hub.migrations') IS NOT NULL"
    ).fetchone()
    if not row[0]:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM mpos_hub.migrations").fetchone()[0]


def migrate(conn) -> list[int]:
    """Bring the hub's schema up to ``LATEST``; returns the versions applied
    (none when it was up to date: one query). ``conn`` is in autocommit-off
    mode with no transaction open; it is left so."""
    version = applied_version(conn)
    conn.commit()
    if version == LATEST:
        return []
    if version > LATEST:
        raise HubTooNew(version)
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS mpos_hub.migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
    for number, name, sql in MIGRATIONS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            done = conn.execute("SELECT 1 FROM mpos_hub.migrations WHERE version = %s", (number,)).fetchone()
            if done:
                continue  # another terminal got there first
            conn.execute(sql)
            conn.execute("INSERT INTO mpos_hub.migrations (version, name) VALUES (%s, %s)", (number, name))
            applied.append(number)
    version = applied_version(conn)
    conn.commit()
    if version > LATEST:
        raise HubTooNew(version)
    return applied
