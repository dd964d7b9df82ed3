"""Bank statements: read the credits, match them to QR payments (SPEC §10).

Formats read:

- **ISO 20022 camt.053** (BankToCustomerStatement) and **camt.054**
  (BankToCustomerDebitCreditNotification), any ``camt.05x.001.NN`` version:
  the elements used have kept their names across versions, and where they
  moved both places are read (``Sts`` as text up to version 05, ``Sts/Cd``
  after; ``RltdPties/Dbtr/Nm`` and ``Dbtr/Pty/Nm``; ``TxDtls/Amt`` and
  ``TxDtls/AmtDtls/TxAmt/Amt``). Parsed with lxml, entities not resolved,
  no network. Per entry (``Ntry``): ``Amt``/@``Ccy``, ``CdtDbtInd``,
  ``RvslInd``, ``Sts``, ``BookgDt``, ``AcctSvcrRef`` (the bank's entry
  reference), ``AddtlNtryInf``; per transaction (``NtryDtls/TxDtls``):
  ``Refs/AcctSvcrRef``, ``RmtInf/Strd/CdtrRefInf/Ref`` (the structured
  creditor reference), ``RmtInf/Ustrd`` (free text), the debtor's name.
- **SWIFT MT940** (customer statement), read with the ``mt-940`` package:
  ``:25:`` account, ``:61:`` statement lines (credit mark ``C``, amount,
  bank reference after ``//``) and their ``:86:`` information.

Matching (``import_statement``): a booked credit is matched to the pending
QR payment whose ISO 11649 creditor reference it carries (structured, or
found in the free text with good check digits) when its amount and currency
are exactly the payment's total; the payment is approved and keeps the
bank's entry reference. Everything else is reported, never guessed:
unknown references, amounts that differ (over- or under-payment), a second
credit for a paid payment (duplicate), a credit for a payment cancelled or
expired, credits without a reference, entries not yet booked, reversals.
The same entry imported again (same entry reference) is recognised and
changes nothing, so importing a camt.054 and then the day's camt.053 that
repeats it, or the same file twice, is safe.

A statement that cannot be read is refused whole (exit 2, the line or
element named) before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator

from mpos_cli.errors import UsageError
from mpos_cli.transaction import CAPTURED, Stage, Transaction, TxStatus

CAMT_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.([0-9]{2})")
MAX_STATEMENT_BYTES = 64 * 1024 * 1024


class StatementError(UsageError):
    """The statement cannot be read (exit 2); nothing was written."""


@dataclass(frozen=True)
class Credit:
    """One credit on the statement, as far as matching needs it."""

    amount_minor: int
    currency: str
    entry_reference: str | None  # the bank's own reference of the entry (AcctSvcrRef, MT940 //ref)
    booking_date: str | None
    references: tuple[str, ...]  # ISO 11649 references found, structured first
    text: str  # the remittance information, for people
    debtor: str | None
    where: str  # "line 41" / "Ntry at line 41": where it is in the file
    status: str = "booked"  # booked | pending | reversal

    @property
    def key(self) -> str:
        """What identifies this entry across imports: the bank's reference, or
        (a bank that gives none) its date, amount and creditor reference."""
        if self.entry_reference:
            return self.entry_reference
        first = self.references[0] if self.references else "-"
        return f"{self.booking_date or '-'}/{self.amount_minor}/{self.currency}/{first}"


@dataclass
class Statement:
    format: str  # camt.053.001.02, camt.054.001.08, mt940
    statement_id: str | None
    account: str | None
    credits: list[Credit] = field(default_factory=list)
    debits: int = 0


# -- reading -------------------------------------------------------------------------


def read_statement(path: Path) -> Statement:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_STATEMENT_BYTES:
            raise StatementError(f"{path} is {size} bytes: too large for a bank statement")
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", hint="give the path of a statement file") from exc
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return parse_camt(data, path.name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # SWIFT's character set fits in it; some banks send ISO 8859-1
    if re.search(r"^:20:", text, re.MULTILINE) or text.lstrip().startswith("{1:"):
        return parse_mt940(text, path.name)
    raise StatementError(
        f"{path.name} is not a statement mpos can read",
        hint="give an ISO 20022 camt.053 or camt.054 XML file, or a SWIFT MT940 file",
    )


def to_minor(amount: Decimal | str, currency_code: str, where: str) -> tuple[int, str]:
    """Exact minor units of a statement amount; more decimals than the
    currency has is an error, never rounded."""
    from mpos_cli.money import currency

    try:
        cur = currency(currency_code)
    except UsageError:
        raise StatementError(f"{where}: unknown currency {currency_code!r}") from None
    try:
        value = abs(Decimal(str(amount).strip()))
    except InvalidOperation:
        raise StatementError(f"{where}: not an amount: {amount!r}") from None
    minor = value.scaleb(cur.exponent)
    if minor != minor.to_integral_value():
        raise StatementError(f"{where}: {amount} has more decimals than {cur.code} allows")
    return int(minor), cur.code


def _credit_references(structured: list[str], texts: list[str]) -> tuple[str, ...]:
    from mpos_cli.qr import find_creditor_references, is_creditor_reference

    found: list[str] = []
    for ref in structured:
        compact = "".join(ref.split()).upper()
        if is_creditor_reference(compact) and compact not in found:
            found.append(compact)
    for text in texts:
        for ref in find_creditor_references(text):
            if ref not in found:
                found.append(ref)
    return tuple(found)


# -- ISO 20022 camt.053 / camt.054 ---------------------------------------------


class _Camt:
    def __init__(self, namespace: str, name: str) -> None:
        self.ns = {"c": namespace}
        self.name = name

    def all(self, element, path: str) -> list:
        return element.findall(self._path(path), self.ns)

    def first(self, element, path: str):
        return element.find(self._path(path), self.ns)

    def text(self, element, path: str) -> str | None:
        found = self.first(element, path)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def need(self, element, path: str) -> Any:
        found = self.first(element, path)
        if found is None or not (found.text or "").strip():
            raise StatementError(f"{self.name} line {element.sourceline}: {_local(element)} has no {path}")
        return found

    @staticmethod
    def _path(path: str) -> str:
        return "/".join(f"c:{part}" for part in path.split("/"))


def _local(element) -> str:
    from lxml import etree

    return etree.QName(element).localname


def parse_camt(data: bytes, name: str) -> Statement:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else "?")
        raise StatementError(f"{name} line {line}: not well-formed XML ({exc.msg})") from None
    namespace = etree.QName(root).namespace or ""
    match = CAMT_NAMESPACE.fullmatch(namespace)
    if _local(root) != "Document" or not match:
        raise StatementError(
            f"{name} is XML but not an ISO 20022 camt.053 or camt.054 document (namespace {namespace or 'none'})",
        )
    message, version = match.group(1), match.group(2)
    camt = _Camt(namespace, name)
    if message == "camt.053":
        container, item = "BkToCstmrStmt", "Stmt"
    else:
        container, item = "BkToCstmrDbtCdtNtfctn", "Ntfctn"
    body = camt.first(root, container)
    if body is None:
        raise StatementError(f"{name} line {root.sourceline}: Document has no {container}")
    reports = camt.all(body, item)
    if not reports:
        raise StatementError(f"{name} line {body.sourceline}: {container} has no {item}")
    statement = Statement(
        format=f"{message}.001.{version}",
        statement_id=camt.text(reports[0], "Id"),
        account=camt.text(reports[0], "Acct/Id/IBAN") or camt.text(reports[0], "Acct/Id/Othr/Id"),
    )
    for report in reports:
        for entry in camt.all(report, "Ntry"):
            _camt_entry(camt, entry, statement)
    return statement


def _camt_entry(camt: _Camt, entry, statement: Statement) -> None:
    where = f"{camt.name} line {entry.sourceline}"
    amount_element = camt.need(entry, "Amt")
    indicator = camt.need(entry, "CdtDbtInd").text.strip()
    if indicator not in ("CRDT", "DBIT"):
        raise StatementError(f"{where}: CdtDbtInd is {indicator!r}, not CRDT or DBIT")
    amount, code = to_minor(amount_element.text, amount_element.get("Ccy") or "", f"{where} (Amt)")
    if indicator == "DBIT":
        statement.debits += 1
        return
    status_text = camt.text(entry, "Sts") or camt.text(entry, "Sts/Cd") or "BOOK"
    reversal = (camt.text(entry, "RvslInd") or "").lower() in ("true", "1")
    status = "reversal" if reversal else ("booked" if status_text.upper() == "BOOK" else "pending")
    booking = camt.text(entry, "BookgDt/Dt") or (camt.text(entry, "BookgDt/DtTm") or "")[:10] or None
    entry_reference = camt.text(entry, "AcctSvcrRef") or camt.text(entry, "NtryRef")
    entry_info = camt.text(entry, "AddtlNtryInf") or ""
    details = camt.all(entry, "NtryDtls/TxDtls")
    if not details:
        statement.credits.append(
            Credit(amount, code, entry_reference, booking, _credit_references([], [entry_info]), entry_info, None,
                   where, status)
        )
        return
    for index, detail in enumerate(details, 1):
        detail_where = f"{camt.name} line {detail.sourceline}"
        detail_amount = camt.first(detail, "Amt")
        if detail_amount is None:
            detail_amount = camt.first(detail, "AmtDtls/TxAmt/Amt")
        if detail_amount is not None:
            tx_amount, tx_code = to_minor(detail_amount.text or "", detail_amount.get("Ccy") or "", f"{detail_where} (Amt)")
        elif len(details) == 1:
            tx_amount, tx_code = amount, code
        else:
            raise StatementError(f"{detail_where}: TxDtls {index} of a batch entry has no amount")
        structured = [e.text or "" for e in camt.all(detail, "RmtInf/Strd/CdtrRefInf/Ref")]
        unstructured = [e.text or "" for e in camt.all(detail, "RmtInf/Ustrd")]
        debtor = camt.text(detail, "RltdPties/Dbtr/Nm") or camt.text(detail, "RltdPties/Dbtr/Pty/Nm")
        detail_reference = camt.text(detail, "Refs/AcctSvcrRef")
        if detail_reference is None and entry_reference is not None:
            detail_reference = entry_reference if len(details) == 1 else f"{entry_reference}/{index}"
        text = " ".join(part.strip() for part in [*structured, *unstructured, entry_info] if part.strip())
        statement.credits.append(
            Credit(tx_amount, tx_code, detail_reference, booking,
                   _credit_references(structured, [*unstructured, entry_info]), text, debtor, detail_where, status)
        )


# -- SWIFT MT940 -------------------------------------------------------------------


def parse_mt940(text: str, name: str) -> Statement:
    import logging

    import mt940

    # mt-940 logs every field it cannot match at ERROR before raising; the
    # error is ours to word, on one line.
    logger = logging.getLogger("mt940")
    was_disabled, logger.disabled = logger.disabled, True
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(text)
    except RuntimeError as exc:
        value = exc.args[2] if len(exc.args) > 2 and isinstance(exc.args[2], str) else ""
        tag = getattr(exc.args[1], "id", "?") if len(exc.args) > 1 else "?"
        raise StatementError(f"{name} line {_line_of(text, value)}: cannot read field :{tag}: {value.splitlines()[0] if value else ''!r}") from None
    except (ValueError, InvalidOperation, KeyError, TypeError, AttributeError) as exc:
        raise StatementError(f"{name}: not a readable MT940 statement ({type(exc).__name__}: {exc})") from None
    finally:
        logger.disabled = was_disabled
    data = transactions.data
    for tag, key in ((":20:", "transaction_reference"), (":25:", "account_identification")):
        if not data.get(key):
            raise StatementError(f"{name}: an MT940 statement needs a {tag} field and this one has none")
    statement = Statement(format="mt940", statement_id=data.get("transaction_reference"),
                          account=data.get("account_identification"))
    lines_61 = [number for number, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(":61:")]
    for index, transaction in enumerate(transactions):
        details = transaction.data
        where = f"{name} line {lines_61[index] if index < len(lines_61) else '?'}"
        mark = str(details.get("status") or "")
        amount = details.get("amount")
        if amount is None:
            raise StatementError(f"{where}: statement line without an amount")
        minor, code = to_minor(amount.amount, amount.currency or "", where)
        if mark == "D":
            statement.debits += 1
            continue
        free_text = [
            str(details[key]) for key in (
                "transaction_details", "purpose", "additional_purpose", "end_to_end_reference",
                "customer_reference", "extra_details",
            ) if details.get(key)
        ]
        date = details.get("entry_date") or details.get("date")
        reference = details.get("bank_reference") or None
        customer_reference = details.get("customer_reference")
        if not reference and customer_reference and customer_reference.upper() != "NONREF":
            reference = customer_reference
        statement.credits.append(
            Credit(
                amount_minor=minor, currency=code, entry_reference=reference,
                booking_date=date.isoformat() if date else None,
                references=_credit_references([], free_text),
                text=" ".join(" ".join(free_text).split()),
                debtor=details.get("applicant_name"),
                where=where,
                status="reversal" if mark.startswith("R") else "booked",
            )
        )
    return statement


def _line_of(text: str, value: str) -> int | str:
    first = value.splitlines()[0] if value else ""
    if first:
        for number, line in enumerate(text.splitlines(), 1):
            if first in line:
                return number
    return "?"


# -- matching ------------------------------------------------------------------------

MATCHED = "matched"
ALREADY = "already_matched"
# Reported, never taken:
UNKNOWN_REFERENCE = "unknown_reference"
AMOUNT_DIFFERS = "amount_differs"
DUPLICATE = "duplicate"
EXPIRED = "expired"
CANCELLED = "cancelled"
NO_REFERENCE = "no_reference"
NOT_BOOKED = "not_booked"
REVERSAL = "reversal"

REASONS = {
    UNKNOWN_REFERENCE: "no QR payment has this reference",
    AMOUNT_DIFFERS: "the amount or currency is not the payment's: it stays pending",
    DUPLICATE: "the payment was already paid by another credit",
    EXPIRED: "the payment had expired unpaid before this credit",
    CANCELLED: "the payment was cancelled before this credit",
    NO_REFERENCE: "no ISO 11649 creditor reference in the credit",
    NOT_BOOKED: "the entry is not booked yet",
    REVERSAL: "a reversal, not a payment",
}


@dataclass(frozen=True)
class Outcome:
    kind: str
    credit: Credit
    transaction: Transaction | None = None

    def to_public(self) -> dict[str, Any]:
        tx = self.transaction
        reference = (tx.qr or {}).get("reference") if tx and tx.qr else None
        return {
            "result": self.kind,
            "reason": REASONS.get(self.kind),
            "id": tx.id if tx else None,
            "reference": reference or (self.credit.references[0] if self.credit.references else None),
            "bank_reference": self.credit.key,
            "amount_minor": self.credit.amount_minor,
            "currency": self.credit.currency,
            "expected_minor": tx.total_minor if tx else None,
            "expected_currency": tx.currency if tx else None,
            "booking_date": self.credit.booking_date,
            "debtor": self.credit.debtor,
            "text": self.credit.text,
            "where": self.credit.where,
        }


@dataclass
class ImportResult:
    file: str
    statement: Statement
    outcomes: list[Outcome]

    def of(self, *kinds: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind in kinds]

    @property
    def changed(self) -> int:
        return len(self.of(MATCHED))

    def to_public(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.statement.format,
            "statement_id": self.statement.statement_id,
            "account": self.statement.account,
            "credits": len(self.statement.credits),
            "debits": self.statement.debits,
            "changed": self.changed,
            "matched": [o.to_public() for o in self.of(MATCHED)],
            "already_matched": [o.to_public() for o in self.of(ALREADY)],
            "unmatched": [o.to_public() for o in self.outcomes if o.kind not in (MATCHED, ALREADY)],
        }


def match_credits(credits: list[Credit], find: Callable[[str], Transaction | None], now) -> Iterator[tuple[Outcome, Transaction | None]]:
    """``(outcome, approved transaction or None)`` per credit, in order;
    ``find`` returns a transaction as journaled. Approvals made earlier in the
    same statement count for later credits (a second credit is a duplicate)."""
    from mpos_cli.qr import transaction_id_of_reference
    from mpos_cli.qr_payments import EXPIRED as EXPIRED_MESSAGE
    from mpos_cli.qr_payments import is_awaiting_transfer

    approved_now: dict[str, Transaction] = {}
    for credit in credits:
        if credit.status == "reversal":
            yield Outcome(REVERSAL, credit), None
            continue
        if credit.status != "booked":
            yield Outcome(NOT_BOOKED, credit), None
            continue
        if not credit.references:
            yield Outcome(NO_REFERENCE, credit), None
            continue
        tx = None
        for reference in credit.references:
            tx_id = transaction_id_of_reference(reference)
            candidate = approved_now.get(tx_id) or (find(tx_id) if tx_id else None)
            if candidate is not None and candidate.qr and candidate.qr.get("reference") == reference:
                tx = candidate
                break
        if tx is None:
            yield Outcome(UNKNOWN_REFERENCE, credit), None
            continue
        if tx.status in CAPTURED:
            same_entry = tx.qr.get("bank_reference") == credit.key
            yield Outcome(ALREADY if same_entry else DUPLICATE, credit, tx), None
            continue
        if is_awaiting_transfer(tx):
            if (credit.amount_minor, credit.currency) != (tx.total_minor, tx.currency):
                yield Outcome(AMOUNT_DIFFERS, credit, tx), None
                continue
            paid = tx.moved_to(
                TxStatus.APPROVED, stage=Stage.DONE, updated_at=now, message=None,
                qr={**tx.qr, "bank_reference": credit.key, "booking_date": credit.booking_date or ""},
            )
            approved_now[tx.id] = paid
            yield Outcome(MATCHED, credit, paid), paid
            continue
        expired = (tx.message or "").startswith(EXPIRED_MESSAGE)
        yield Outcome(EXPIRED if tx.status == TxStatus.CANCELLED and expired else CANCELLED, credit, tx), None


def import_statement(pos, path: Path, notify: Callable[[str], None] = lambda _: None) -> ImportResult:
    """Read the whole statement, then match and journal the approvals in one
    write: a statement that cannot be read changes nothing."""
    from mpos_cli.qr_payments import expire_overdue

    statement = read_statement(path)
    ours = pos.env.config["qr.iban"]
    theirs = "".join((statement.account or "").split()).upper()
    if ours and theirs and theirs != ours:
        notify(f"note: the statement is for account {theirs}, QR payments go to {ours} (qr.iban)")
    expire_overdue(pos, notify)
    journal = pos.journal
    with journal.lock:  # one importer at a time; a charge meanwhile is unaffected
        pairs = list(match_credits(statement.credits, journal.find, pos.env.now()))
        approvals = [paid for _, paid in pairs if paid is not None]
        if approvals:
            journal.update_many(approvals)
    return ImportResult(file=str(path), statement=statement, outcomes=[outcome for outcome, _ in pairs])
