"""The sandbox acquirer's operations, independent of HTTP.

Each method takes a parsed JSON body and returns ``Reply`` (status, JSON
answer, whether to hold it) or raises ``ApiError``. ``man 7
mpos-gateway-api`` is the contract; this module is its one implementation.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mpos_cli.gateway.batch_totals import add_to_totals
from mpos_cli.gateway.sandbox import issuer
from mpos_cli.gateway.sandbox.store import Operation, SandboxStore, new_acquirer_id, now_iso

API_VERSION = 1
SERVICE_NAME = "mpos-sandbox-acquirer"

_CURRENCY = re.compile(r"[A-Z]{3}")
_MASKED_PAN = re.compile(r"[0-9]{6}\*{2,9}[0-9]{4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_REFERENCE = 128
MAX_MINOR = 999_999_999_999  # EMV n12
ENTRY_MODES = ("contactless", "chip", "swipe")


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message}


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | list[Any]
    hold: bool = False
    headers: dict[str, str] = field(default_factory=dict)


# -- validation ----------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _text(body: dict, name: str, *, required: bool = True, max_len: int = 256) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _bad(f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise _bad(f"{name} must be text of at most {max_len} characters")
    return value


def _reference(body: dict, name: str = "reference") -> str:
    value = _text(body, name, max_len=MAX_REFERENCE)
    if not value.isprintable() or value != value.strip():
        raise _bad(f"{name} must be printable text without surrounding spaces")
    return value


def _minor(body: dict, name: str, *, minimum: int = 0, required: bool = True) -> int:
    value = body.get(name)
    if value is None and not required:
        return 0
    # bool is an int in Python and a float is never money.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{name} must be an integer number of minor units")
    if not minimum <= value <= MAX_MINOR:
        raise _bad(f"{name} must be between {minimum} and {MAX_MINOR}")
    return value


def _currency(body: dict) -> str:
    value = _text(body, "currency", max_len=3)
    if not _CURRENCY.fullmatch(value):
        raise _bad("currency must be an ISO 4217 alpha code such as EUR")
    return value


def _moment(body: dict, name: str, *, required: bool) -> datetime | None:
    value = _text(body, name, required=required, max_len=64)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise _bad(f"{name} must carry its UTC offset")
    return moment


def _masked_pan(body: dict, *, required: bool) -> str | None:
    value = _text(body, "masked_pan", required=required, max_len=19)
    if value is not None and not _MASKED_PAN.fullmatch(value):
        # Refuse rather than store: it could be a full PAN (SPEC §8).
        raise _bad("masked_pan must be first 6 and last 4 digits with * between")
    return value


def _emv(body: dict) -> dict[str, str]:
    value = body.get("emv") or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9A-Fa-f]*", v) for k, v in value.items()
    ):
        raise _bad("emv must be an object of hex tag -> hex value")
    return value


def body_digest(path: str, body: dict) -> str:
    """SHA-256 of the endpoint and the canonical body: all the acquirer keeps of a request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def _local_today() -> date:
    return datetime.now().astimezone().date()


@dataclass(frozen=True)
class _FollowUp:
    reference: str
    original_reference: str
    captured: datetime | None
    digest: str
    received_at: str
    business_date: str


# -- the acquirer ------------------------------------------------------------------


class SandboxAcquirer:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    # idempotency -------------------------------------------------------------

    def _replay(self, conn, key: str, digest: str) -> Reply | None:
        # The operation first, then its answer: both are committed together,
        # so once the operation is seen its answer is too. (The other order
        # races a concurrent duplicate committing between the two reads.)
        if self.store.get(conn, key) is None:
            return None
        saved = self.store.saved_answer(conn, key)
        if saved is None:
            raise ApiError(409, "idempotency_conflict", f"reference {key} is already used by another request")
        saved_digest, status, answer = saved
        if saved_digest != digest:
            raise ApiError(
                409, "idempotency_conflict", f"reference {key} was already used with a different request body"
            )
        return Reply(status, json.loads(answer), headers={"Idempotent-Replayed": "true"})

    def _record(self, conn, key: str, digest: str, op: Operation, message: str | None = None) -> dict:
        self.store.insert(conn, op)
        answer = op.as_answer(message)
        self.store.save_answer(conn, key, digest, 200, json.dumps(answer))
        return answer

    @staticmethod
    def _check_key(key: str | None, reference: str) -> str:
        if not key:
            raise _bad("the Idempotency-Key header is required on this call")
        if key != reference:
            raise _bad("the Idempotency-Key header must equal the request's reference")
        return key

    # authorisations ------------------------------------------------------------

    def authorise(self, key: str | None, path: str, body: dict) -> Reply:
        reference = _reference(body)
        self._check_key(key, reference)
        amount = _minor(body, "amount_minor", minimum=1)
        tip = _minor(body, "tip_minor", required=False)
        currency = _currency(body)
        entry_mode = _text(body, "entry_mode", max_len=16)
        if entry_mode not in ENTRY_MODES:
            raise _bad(f"entry_mode must be one of {', '.join(ENTRY_MODES)}")
        cvm = _text(body, "cvm", required=False, max_len=16) or "none"
        card_blob = _text(body, "encrypted_card_data", required=False, max_len=8192) or ""
        pin_blob = _text(body, "encrypted_pin_block", required=False, max_len=4096)
        emv = _emv(body)
        deferred = body.get("deferred", False)
        if not isinstance(deferred, bool):
            raise _bad("deferred must be true or false")
        captured = _moment(body, "captured_at", required=deferred)
        claimed_pan = _masked_pan(body, required=False)
        merchant_id = _text(body, "merchant_id", required=False, max_len=32)
        terminal_id = _text(body, "terminal_id", required=False, max_len=32)
        digest = body_digest(path, body)

        with self.store.connection() as conn:  # the fast path: a replay needs no issuer
            replay = self._replay(conn, reference, digest)
            if replay is not None:
                return replay

        received_at = now_iso()
        business_date = captured.date() if captured else _local_today()
        # The issuer works outside the write lock (cryptography takes milliseconds);
        # a racing duplicate's decision is simply discarded below.
        decision = issuer.decide(
            total_minor=amount + tip, entry_mode=entry_mode, cvm=cvm, encrypted_card_data=card_blob,
            encrypted_pin_block=pin_blob, emv=emv, deferred=deferred, captured_on=business_date,
        )
        with self.store.write() as conn:
            replay = self._replay(conn, reference, digest)
            if replay is not None:
                return replay
            orphan = conn.execute("SELECT received_at FROM orphan_reversals WHERE reference = ?", (reference,)).fetchone()
            op = Operation(
                reference=reference, acquirer_id=new_acquirer_id(), kind="sale", original_reference=None,
                amount_minor=amount, tip_minor=tip, currency=currency,
                response_code=decision.response_code, auth_code=decision.auth_code, message=decision.message,
                refunded_minor=0, reversed_at=None, reversal_reason=None, voided_by=None, batch_reference=None,
                masked_pan=decision.masked_pan or claimed_pan, scheme=decision.scheme or body.get("scheme"),
                entry_mode=entry_mode, cvm=cvm, deferred=int(deferred),
                captured_at=captured.isoformat() if captured else None, received_at=received_at,
                business_date=business_date.isoformat(), merchant_id=merchant_id, terminal_id=terminal_id,
                emv_response=json.dumps(decision.emv),
            )
            if orphan is not None:
                # The reversal overtook this authorisation: never honour it.
                op.response_code, op.auth_code, op.emv_response = issuer.INVALID_TRANSACTION, None, "{}"
                op.message = "a reversal for this reference arrived first; not honoured"
                op.reversed_at, op.reversal_reason = orphan["received_at"], "reversal received before the authorisation"
            answer = self._record(conn, reference, digest, op)
        return Reply(200, answer, hold=decision.hold and orphan is None)

    def lookup(self, reference: str) -> Reply:
        with self.store.connection() as conn:
            op = self.store.get(conn, reference)
        if op is None:
            raise ApiError(404, "unknown_reference", f"no transaction under reference {reference}")
        return Reply(200, op.as_answer())

    # follow-ups --------------------------------------------------------------------

    def _follow_up(self, kind: str, reference: str, original: Operation | None, amount: int, tip: int, currency: str,
                   code: str, message: str, received_at: str, business_date: str) -> Operation:
        return Operation(
            reference=reference, acquirer_id=new_acquirer_id(), kind=kind,
            original_reference=original.reference if original else None,
            amount_minor=amount, tip_minor=tip, currency=currency, response_code=code,
            auth_code=issuer.new_auth_code() if code == issuer.APPROVED else None, message=message,
            refunded_minor=0, reversed_at=None, reversal_reason=None, voided_by=None, batch_reference=None,
            masked_pan=original.masked_pan if original else None, scheme=original.scheme if original else None,
            entry_mode=original.entry_mode if original else None, cvm=None, deferred=0, captured_at=None,
            received_at=received_at, business_date=business_date, merchant_id=original.merchant_id if original else None,
            terminal_id=original.terminal_id if original else None, emv_response="{}",
        )

    def _follow_up_request(self, key: str | None, path: str, body: dict) -> "_FollowUp":
        """What a refund and a void share: references, key check, dates, digest."""
        reference = _reference(body)
        self._check_key(key, reference)
        captured = _moment(body, "captured_at", required=False)
        return _FollowUp(
            reference=reference,
            original_reference=_reference(body, "original_reference"),
            captured=captured,
            digest=body_digest(path, body),
            received_at=now_iso(),
            business_date=(captured.date() if captured else _local_today()).isoformat(),
        )

    def _original_sale(self, conn, original_reference: str) -> tuple[Operation | None, str, str]:
        """The sale a refund or void points at, with the answer so far."""
        original = self.store.get(conn, original_reference)
        if original is None or original.kind != "sale":
            return None, issuer.UNABLE_TO_LOCATE, f"no sale under reference {original_reference}"
        return original, issuer.APPROVED, "approved"

    def _answer_follow_up(self, request, decide) -> Reply:
        """What refunds and voids share: the saved answer to a request seen
        before, else the sale it points at handed to ``decide``, whose
        operation is recorded and answered."""
        with self.store.write() as conn:
            replay = self._replay(conn, request.reference, request.digest)
            if replay is not None:
                return replay
            original, code, message = self._original_sale(conn, request.original_reference)
            op = decide(conn, original, code, message)
            answer = self._record(conn, request.reference, request.digest, op)
        return Reply(200, answer)

    def refund(self, key: str | None, path: str, body: dict) -> Reply:
        request = self._follow_up_request(key, path, body)
        amount = _minor(body, "amount_minor", minimum=1)
        currency = _currency(body)

        def decide(conn, original: Operation | None, code: str, message: str) -> Operation:
            if original is None:
                pass  # code and message already say there is no such sale
            elif original.status not in ("approved", "settled", "partially_refunded", "refunded"):
                code, message = issuer.INVALID_TRANSACTION, f"the sale is {original.status}: it cannot be refunded"
            elif currency != original.currency:
                code, message = issuer.INVALID_TRANSACTION, f"the sale was in {original.currency}, not {currency}"
            elif amount > original.total_minor - original.refunded_minor:
                left = original.total_minor - original.refunded_minor
                code, message = issuer.INVALID_AMOUNT, f"only {left} minor units are left to refund on the sale"
            op = self._follow_up("refund", request.reference, original, amount, 0, currency, code, message,
                                 request.received_at, request.business_date)
            if op.approved:
                op.captured_at = request.captured.isoformat() if request.captured else None
                self.store.update(conn, original.reference, refunded_minor=original.refunded_minor + amount)
            return op

        return self._answer_follow_up(request, decide)

    def void(self, key: str | None, path: str, body: dict) -> Reply:
        request = self._follow_up_request(key, path, body)

        def decide(conn, original: Operation | None, code: str, message: str) -> Operation:
            if original is None:
                pass  # code and message already say there is no such sale
            elif original.status == "settled":
                code, message = issuer.INVALID_TRANSACTION, f"the sale was settled in batch {original.batch_reference}: refund it instead"
            elif original.status != "approved":
                code, message = issuer.INVALID_TRANSACTION, f"the sale is {original.status}: only an untouched approved sale can be voided"
            op = self._follow_up(
                "void", request.reference, original, original.amount_minor if original else 0,
                original.tip_minor if original else 0, original.currency if original else "XXX",
                code, message, request.received_at, request.business_date,
            )
            if op.approved:
                self.store.update(conn, original.reference, reversed_at=request.received_at,
                                  reversal_reason="voided", voided_by=request.reference)
            return op

        return self._answer_follow_up(request, decide)

    def reverse(self, key: str | None, body: dict) -> Reply:
        """ISO 8583 0400/0420: naturally idempotent, so no saved answer is needed;
        a reversal of an unknown reference is recorded and answered 00."""
        reference = _reference(body)
        self._check_key(key, reference)
        reason = _text(body, "reason", required=False, max_len=512) or "reversal requested"
        now = now_iso()
        with self.store.write() as conn:
            op = self.store.get(conn, reference)
            if op is None:
                conn.execute(
                    "INSERT OR IGNORE INTO orphan_reversals (reference, reason, received_at) VALUES (?, ?, ?)",
                    (reference, reason, now),
                )
                return Reply(200, {
                    "reference": reference, "acquirer_id": None, "type": None, "status": "reversed",
                    "approved": True, "response_code": issuer.APPROVED, "auth_code": None,
                    "message": "no transaction under this reference; the reversal is recorded", "emv": {},
                    "original_found": False,
                })
            code, message = issuer.APPROVED, "reversed"
            if op.reversed_at:
                message = "already reversed"
            elif not op.approved:
                message = f"{op.status}: nothing to reverse"
            elif op.batch_reference:
                code, message = issuer.INVALID_TRANSACTION, f"settled in batch {op.batch_reference}: refund it instead"
            elif op.kind == "sale" and op.refunded_minor:
                code, message = issuer.INVALID_TRANSACTION, "the sale has refunds: reverse those first"
            else:
                self.store.update(conn, reference, reversed_at=now, reversal_reason=reason)
                if op.kind == "refund":
                    conn.execute(
                        "UPDATE operations SET refunded_minor = refunded_minor - ? WHERE reference = ?",
                        (op.amount_minor, op.original_reference),
                    )
                elif op.kind == "void":
                    self.store.update(conn, op.original_reference, reversed_at=None, reversal_reason=None,
                                      voided_by=None)
                op = self.store.get(conn, reference)
        answer = op.as_answer(message)
        answer.update(approved=code == issuer.APPROVED, response_code=code, original_found=True)
        return Reply(200, answer)

    # settlement ------------------------------------------------------------------------

    def close_batch(self, key: str | None, body: dict) -> Reply:
        batch_reference = _reference(body, "batch_reference")
        if not key:
            raise _bad("the Idempotency-Key header is required on this call")
        if key != batch_reference:
            raise _bad("the Idempotency-Key header must equal batch_reference")
        business_date = _text(body, "business_date", max_len=10)
        if not _DATE.fullmatch(business_date):
            raise _bad("business_date must be YYYY-MM-DD")
        open_rows = (
            "batch_reference IS NULL AND response_code = '00' AND reversed_at IS NULL "
            "AND kind IN ('sale', 'refund') AND business_date <= ?"
        )
        with self.store.write() as conn:
            closed = conn.execute(
                "SELECT business_date, answer FROM batches WHERE batch_reference = ?", (batch_reference,)
            ).fetchone()
            if closed is not None:
                if closed["business_date"] != business_date:
                    raise ApiError(409, "idempotency_conflict",
                                   f"batch {batch_reference} was closed for {closed['business_date']}")
                return Reply(200, json.loads(closed["answer"]), headers={"Idempotent-Replayed": "true"})
            totals: dict[str, dict[str, int]] = {}
            references: list[str] = []
            for row in conn.execute(
                f"SELECT reference, kind, amount_minor, tip_minor, currency FROM operations WHERE {open_rows} "
                "ORDER BY business_date, received_at, rowid", (business_date,)
            ):
                add_to_totals(totals, row["currency"], row["kind"], row["amount_minor"] + row["tip_minor"])
                references.append(row["reference"])
            conn.execute(f"UPDATE operations SET batch_reference = ? WHERE {open_rows}", (batch_reference, business_date))
            answer = {
                "batch_reference": batch_reference,
                "business_date": business_date,
                "closed_at": now_iso(),
                "totals": totals,
                "references": references,
            }
            conn.execute(
                "INSERT INTO batches (batch_reference, business_date, closed_at, answer) VALUES (?, ?, ?, ?)",
                (batch_reference, business_date, answer["closed_at"], json.dumps(answer)),
            )
        return Reply(200, answer)

    # sandbox only ------------------------------------------------------------------------

    def ledger(self) -> Reply:
        return Reply(200, {"transactions": self.store.ledger()})

    def seed(self, body: dict) -> Reply:
        """Approved sales straight into the ledger, all in one transaction."""
        sales = body.get("sales")
        if not isinstance(sales, list):
            raise _bad("sales must be a list")
        received_at = now_iso()
        rows: list[tuple] = []
        seen: set[str] = set()
        for index, sale in enumerate(sales):
            if not isinstance(sale, dict):
                raise _bad(f"sales[{index}] must be an object")
            try:
                reference = _reference(sale)
                amount, tip = _minor(sale, "amount_minor", minimum=1), _minor(sale, "tip_minor", required=False)
                currency = _currency(sale)
                captured = _moment(sale, "captured_at", required=True)
                masked_pan = _masked_pan(sale, required=True)
                scheme = _text(sale, "scheme", max_len=32)
                entry_mode = _text(sale, "entry_mode", required=False, max_len=16) or "contactless"
                cvm = _text(sale, "cvm", required=False, max_len=16) or "none"
                auth_code = _text(sale, "auth_code", required=False, max_len=6) or issuer.new_auth_code()
            except ApiError as exc:
                raise _bad(f"sales[{index}]: {exc.message}") from None
            if entry_mode not in ENTRY_MODES:
                raise _bad(f"sales[{index}]: entry_mode must be one of {', '.join(ENTRY_MODES)}")
            if reference in seen:
                raise _bad(f"sales[{index}]: reference {reference} appears twice")
            seen.add(reference)
            rows.append((
                reference, new_acquirer_id(), amount, tip, currency, auth_code, masked_pan, scheme, entry_mode, cvm,
                captured.isoformat(), received_at, captured.date().isoformat(),
                json.dumps({"8A": issuer.response_tag_8a("00")} if entry_mode != "swipe" else {}),
            ))
        with self.store.write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT INTO operations (reference, acquirer_id, kind, amount_minor, tip_minor, currency, "
                "response_code, auth_code, message, masked_pan, scheme, entry_mode, cvm, captured_at, received_at, "
                "business_date, emv_response) VALUES (?, ?, 'sale', ?, ?, ?, '00', ?, 'approved (seeded)', ?, ?, ?, ?, "
                "?, ?, ?, ?) ON CONFLICT (reference) DO NOTHING",
                rows,
            )
            inserted = conn.total_changes - before
            # Answer with what the ledger now holds for each reference (a reference
            # seeded before keeps its first codes).
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS seed_refs (reference TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM seed_refs")
            conn.executemany("INSERT INTO seed_refs VALUES (?)", ((row[0],) for row in rows))
            held = {
                row["reference"]: (row["acquirer_id"], row["auth_code"], row["response_code"])
                for row in conn.execute(
                    "SELECT o.reference, o.acquirer_id, o.auth_code, o.response_code "
                    "FROM operations o JOIN seed_refs s ON s.reference = o.reference"
                )
            }
            conn.execute("DELETE FROM seed_refs")
        results = [
            {"reference": row[0], "acquirer_id": held[row[0]][0], "auth_code": held[row[0]][1],
             "response_code": held[row[0]][2]}
            for row in rows
        ]
        return Reply(200, {"inserted": inserted, "already_present": len(rows) - inserted, "results": results})

    @staticmethod
    def health() -> Reply:
        return Reply(200, {"service": SERVICE_NAME, "sandbox": True, "api_version": API_VERSION, "time": now_iso()})
