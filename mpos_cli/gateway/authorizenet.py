"""Authorize.Net API (JSON), card present, behind ``Gateway``.

``gateway.url = authorizenet+https://apitest.authorize.net`` (its sandbox) or
``authorizenet+https://api.authorize.net``; every call is a ``POST
/xml/v1/request.api`` whose JSON body mirrors the published XML schema
AnetApiSchema.xsd element for element, in order (the Authorize.Net API
reference, developer.authorize.net/api/reference, "JSON support"): so the
bodies below are built in the XSD's sequence order, and the tests validate
each one against the XSD. The answers start with a UTF-8 byte order mark,
as the API reference warns; ``vendor.json_of`` allows it. ``man 7
mpos-gateway-authorizenet`` has the whole mapping.

Credentials (``merchantAuthentication``): ``name`` = the API login ID
(``gateway.merchant_id``), ``transactionKey`` = the secret (``MPOS_GATEWAY_KEY``
or the keyring).

Operations:

- sale: ``createTransactionRequest`` with ``transactionType``
  ``authCaptureTransaction``; chip and contactless in ``payment.emv``
  (``emvData``: base64 of the EMV tags and the reader's DUKPT-encrypted
  objects as TLV, never a clear PAN; ``emvDescriptor``; ``emvVersion``),
  a swipe in ``payment.encryptedTrackData`` (``FormOfPayment.Value``:
  ``Encoding`` Hex, ``EncryptionAlgorithm`` TDES or AES, ``Scheme.DUKPT``
  with ``Operation`` DECRYPT, ``Mode.Data`` 1, ``DeviceInfo.Description``,
  ``EncryptedData.Value``); ``retail`` with ``marketType`` 2 (retail) and
  ``deviceType`` 7 (wireless POS); ``order.invoiceNumber`` and ``refId`` =
  our reference; ``transactionSettings`` ``duplicateWindow`` 28800 s (its
  maximum), so a resend of the same request is answered as a duplicate
  (reason code 11, with the original's ``transId`` and ``authCode``: the
  "enhanced duplicate response" the setting turns on) instead of charging
  twice. ``transactionResponse.emvResponse`` (8A, 91, 71, 72) goes back to
  the card.
- a sale stored offline and forwarded later: the same request, unmarked.
  Authorize.Net documents no deferred-authorisation or store-and-forward
  flag (none in the API reference's createTransactionRequest, nor in
  AnetApiSchema.xsd's transactionRequestType, transRetailInfoType or the
  transactionSettings names), so the gateway cannot tell it from a sale
  taken now.
- void: ``voidTransaction`` with ``refTransId`` (reason code 310 "already
  voided" is the answer to a resend);
- refund: ``refundTransaction`` with ``refTransId``, the card's last four
  digits and ``XXXX`` as expiry, as the reference requires for a linked
  credit; Authorize.Net refunds only settled sales (reason code 54 before the
  daily settlement: void it instead);
- lookup by our reference: ``getUnsettledTransactionListRequest`` and, for
  the last days' settled batches, ``getSettledBatchListRequest`` +
  ``getTransactionListRequest``, matched on ``invoiceNumber``; then
  ``getTransactionDetailsRequest`` for its codes;
- reversal of an unknown outcome: the lookup, then ``voidTransaction`` of
  what it found (nothing found: nothing to reverse);
- settle: what Authorize.Net settled (``getSettledBatchListRequest`` with
  statistics, ``getTransactionListRequest`` per batch) and holds pending
  settlement (``getUnsettledTransactionListRequest``) since the last settle.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, UsageError
from mpos_cli.gateway.base import (
    AuthorisationRequest,
    AuthorisationResult,
    BatchTotals,
    RefundRequest,
)
from mpos_cli.gateway.batch_totals import add_to_totals
from mpos_cli.gateway.transport import AnswerTimeout
from mpos_cli.gateway.vendor import (
    AcquirerRefused,
    AdapterSettings,
    ReconciliationBook,
    VendorGateway,
    VendorTransport,
    card_data_ksn,
    decimal_amount,
    emv_tags_of,
    emv_tlv,
    json_of,
    malformed,
    minor_units,
    utc_text,
)

NAME = "authorizenet"
ENDPOINT = "/xml/v1/request.api"
DUPLICATE_WINDOW = "28800"  # seconds; the API's maximum (8 hours)
MARKET_RETAIL = "2"
DEVICE_WIRELESS_POS = "7"
# emvDescriptor / DeviceInfo.Description name the reader family to the
# gateway; Authorize.Net assigns the value for each supported reader when the
# merchant's account is enabled for it (see man 7 mpos-gateway-authorizenet).
EMV_DESCRIPTOR = "IDTECH.NEO2"
EMV_VERSION = "1.0"
SETTLED_LOOKBACK = timedelta(days=2)
BATCH_LOOKBACK = timedelta(days=31)  # getSettledBatchList takes at most 31 days
PAGE = 1000

# transactionResponse.responseCode (API reference, "Response codes")
APPROVED, DECLINED, ERROR, HELD = "1", "2", "3", "4"
# Response reason codes (the errors' errorCode) onto ISO 8583 codes, in plain words.
REASON_CODES: dict[str, tuple[str, str]] = {
    "2": ("05", "do not honour"),
    "3": ("05", "do not honour"),
    "4": ("04", "pick up the card"),
    "6": ("14", "invalid card number"),
    "8": ("54", "expired card"),
    "19": ("91", "an error occurred during processing: try again"),
    "37": ("14", "invalid card number"),
    "45": ("05", "declined (address or card code)"),
    "65": ("05", "declined (card code)"),
    "250": ("05", "declined by the fraud filters"),
    "251": ("05", "declined by the fraud filters"),
    "252": ("05", "held for review"),
    "253": ("05", "held for review"),
    "254": ("05", "declined by the merchant's review"),
}
# Processor codes in rawResponseCode are ISO 8583 when two characters.
# Errors of the request itself (messages.message.code), API reference "Error codes".
REQUEST_ERRORS = {
    "E00003": "the request does not follow the schema (a field is invalid)",
    "E00007": "user authentication failed: wrong API login ID or transaction key",
    "E00008": "the API login ID or transaction key is inactive",
    "E00013": "a field is invalid",
    "E00015": "a field has an invalid length",
    "E00027": "the transaction was unsuccessful",
}
PAID_STATUSES = {"capturedPendingSettlement", "settledSuccessfully"}
REFUND_STATUSES = {"refundPendingSettlement", "refundSettledSuccessfully"}


class AuthorizeNetGateway(VendorGateway):
    sandbox = False

    name = NAME
    display_name = "Authorize.Net"
    reports = "Merchant Interface reports"

    def __init__(self, settings: AdapterSettings, **options) -> None:
        if len(settings.secret) > 16:
            raise UsageError("the Authorize.Net transaction key is at most 16 characters",
                             hint="set MPOS_GATEWAY_KEY to the transaction key, not the signature key")
        super().__init__(settings, **options)

    # -- the one endpoint ---------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"name": self.settings.merchant_id, "transactionKey": self.settings.secret}

    def request_body(self, root: str, fields: dict[str, Any], *, ref_id: str | None = None) -> dict[str, Any]:
        """``{root: {merchantAuthentication, [refId], fields...}}`` in the XSD's order (public for the tests)."""
        inner: dict[str, Any] = {"merchantAuthentication": self._auth()}
        if ref_id is not None:
            inner["refId"] = ref_id
        inner.update(fields)
        return {root: inner}

    def _call(self, body: dict[str, Any], *, what: str, timeout: float | None = None) -> dict[str, Any]:
        content = json.dumps(body, separators=(",", ":")).encode()
        response = self.http.send("POST", ENDPOINT, content=content, timeout=timeout, what=what,
                                  headers={"Content-Type": "application/json", "Accept": "application/json"})
        data = json_of(response, what, "Authorize.Net")
        if response.status_code != 200 or not isinstance(data, dict):
            raise GatewayOutcomeUnknown(f"Authorize.Net answered {what} with HTTP {response.status_code}",
                                        hint="the outcome is unknown; mpos recover resolves it")
        messages = data.get("messages") or {}
        if messages.get("resultCode") == "Error" and not data.get("transactionResponse"):
            first = (messages.get("message") or [{}])[0]
            code, text = str(first.get("code") or ""), str(first.get("text") or "")[:200]
            if code == "E00040":  # "The record cannot be found."
                return data
            raise AcquirerRefused(
                f"Authorize.Net refused {what}: {code} {REQUEST_ERRORS.get(code, text or 'request refused')}",
                hint="nothing was charged; see man 7 mpos-gateway-authorizenet",
            )
        return data

    # -- sale ------------------------------------------------------------------------------

    def _payment(self, request: AuthorisationRequest) -> dict[str, Any]:
        if not request.encrypted_card_data:
            raise UsageError("Authorize.Net takes card data only as the reader's encrypted objects",
                             hint="use a reader that encrypts under DUKPT")
        if request.entry_mode == "swipe":
            ksn = card_data_ksn(request.encrypted_card_data)
            return {"encryptedTrackData": {"FormOfPayment": {"Value": {
                "Encoding": "Hex",
                "EncryptionAlgorithm": "TDES" if len(ksn) == 20 else "AES",
                "Scheme": {"DUKPT": {
                    "Operation": "DECRYPT",
                    "Mode": {"Data": "1"},
                    "DeviceInfo": {"Description": EMV_DESCRIPTOR},
                    "EncryptedData": {"Value": request.encrypted_card_data},
                }},
            }}}}
        # EMV tags (never the clear sensitive ones) followed by the reader's sealed
        # objects (KSN DFEE12, encrypted 57/5A) and its PIN objects (99, DFEE51).
        blob = bytes.fromhex(emv_tlv(request.emv)) + bytes.fromhex(request.encrypted_card_data)
        if request.encrypted_pin_block:
            blob += bytes.fromhex(request.encrypted_pin_block)
        return {"emv": {"emvData": base64.b64encode(blob).decode(), "emvDescriptor": EMV_DESCRIPTOR,
                        "emvVersion": EMV_VERSION}}

    def authorisation_body(self, request: AuthorisationRequest) -> dict[str, Any]:
        total = request.amount_minor + request.tip_minor
        transaction: dict[str, Any] = {
            "transactionType": "authCaptureTransaction",
            "amount": decimal_amount(total, request.currency),
            "currencyCode": request.currency,
            "payment": self._payment(request),
            "order": {"invoiceNumber": request.reference, "description": "mpos sale"},
            "retail": {"marketType": MARKET_RETAIL, "deviceType": DEVICE_WIRELESS_POS},
            "transactionSettings": {"setting": [{"settingName": "duplicateWindow", "settingValue": DUPLICATE_WINDOW}]},
        }
        if request.terminal_id:
            transaction["retail"]["terminalNumber"] = request.terminal_id
        if request.tip_minor:
            transaction["tip"] = {"amount": decimal_amount(request.tip_minor, request.currency), "name": "tip"}
        return self.request_body("createTransactionRequest", {"transactionRequest": transaction},
                                 ref_id=request.reference)

    def authorise(self, request: AuthorisationRequest, *, policy=None) -> AuthorisationResult:
        from mpos_cli.gateway import retry

        body = self.authorisation_body(request)
        policy = policy or retry.DEFAULT
        attempt = 1
        # Safe to resend under duplicateWindow: Authorize.Net answers a repeat as a
        # duplicate (reason 11) and the original is looked up. A timeout is not
        # resent: the gateway is slow, not gone, and the flow looks it up.
        while True:
            try:
                data = self._call(body, what="the payment", timeout=self.timeout_of(policy))
                break
            except AnswerTimeout:
                raise
            except GatewayOutcomeUnknown as failure:
                if not policy.should_retry(attempt, failure):
                    raise
            policy.sleep(policy.delay(attempt))
            attempt += 1
        return self._transaction_result(request.reference, data, "the payment", kind="sale",
                                        amount=request.amount_minor, tip=request.tip_minor, currency=request.currency)

    def _transaction_result(self, reference: str, data: dict, what: str, *, kind: str, amount=None, tip=None,
                            currency=None) -> AuthorisationResult:
        try:
            answer = data.get("transactionResponse") or {}
            code = str(answer.get("responseCode") or "")
            errors = _list(answer.get("errors"), "error")
            reason = str(errors[0].get("errorCode")) if errors else ""
            text = str(errors[0].get("errorText") or "") if errors else ""
            emv = _emv_response(answer.get("emvResponse"))
            trans_id = str(answer.get("transId") or "")
            auth_code = str(answer.get("authCode") or "") or None
            common = dict(reference=reference, acquirer_id=trans_id, kind=kind, amount_minor=amount, tip_minor=tip,
                          currency=currency, emv=emv)
            if code == APPROVED:
                return AuthorisationResult(status="approved", response_code="00", auth_code=auth_code,
                                           message="approved", **common)
            if code == ERROR and reason == "11":  # duplicate: the enhanced answer names the original
                original = self.lookup(reference)
                if original is not None:
                    return original
                raise GatewayOutcomeUnknown(f"Authorize.Net calls {what} a duplicate but holds no {reference}",
                                            hint="mpos recover resolves it")
            if code in (DECLINED, HELD) or (code == ERROR and reason in REASON_CODES):
                iso, words = REASON_CODES.get(reason, ("05", "do not honour"))
                raw = str(answer.get("rawResponseCode") or "")
                iso = raw if len(raw) == 2 and raw.isalnum() else iso
                return AuthorisationResult(status="declined", response_code=iso, auth_code=None,
                                           message=f"{words} (reason {reason or code})", **common)
            if code == ERROR:
                return AuthorisationResult(status="declined", response_code="12", auth_code=None,
                                           message=f"refused: {reason} {text}".strip(), **common)
            raise ValueError(f"responseCode {code!r}")
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise malformed("Authorize.Net", what, exc) from exc

    # -- lookup by our reference ---------------------------------------------------------------

    def _unsettled(self, *, policy=None) -> list[dict]:
        rows: list[dict] = []
        offset = 1
        while True:
            body = self.request_body("getUnsettledTransactionListRequest", {
                "sorting": {"orderBy": "submitTimeUTC", "orderDescending": True},
                "paging": {"limit": PAGE, "offset": offset},
            })
            data = self._call(body, what="the unsettled transaction list", timeout=self.timeout_of(policy))
            page = _list(data.get("transactions"), "transaction")
            rows += page
            if len(page) < PAGE:
                return rows
            offset += 1

    def _batches(self, first: datetime, last: datetime, *, policy=None) -> list[dict]:
        body = self.request_body("getSettledBatchListRequest", {
            "includeStatistics": True,
            "firstSettlementDate": utc_text(first),
            "lastSettlementDate": utc_text(last),
        })
        data = self._call(body, what="the settled batch list", timeout=self.timeout_of(policy))
        return _list(data.get("batchList"), "batch")

    def _batch_transactions(self, batch_id: str, *, policy=None) -> list[dict]:
        rows: list[dict] = []
        offset = 1
        while True:
            body = self.request_body("getTransactionListRequest", {
                "batchId": batch_id,
                "sorting": {"orderBy": "submitTimeUTC", "orderDescending": False},
                "paging": {"limit": PAGE, "offset": offset},
            })
            data = self._call(body, what=f"the transactions of batch {batch_id}", timeout=self.timeout_of(policy))
            page = _list(data.get("transactions"), "transaction")
            rows += page
            if len(page) < PAGE:
                return rows
            offset += 1

    def _find(self, reference: str, *, policy=None) -> dict | None:
        for row in self._unsettled(policy=policy):
            if row.get("invoiceNumber") == reference:
                return row
        now = self.clock()
        for batch in self._batches(now - SETTLED_LOOKBACK, now, policy=policy):
            for row in self._batch_transactions(str(batch.get("batchId")), policy=policy):
                if row.get("invoiceNumber") == reference:
                    return row
        return None

    def _details(self, trans_id: str, *, policy=None) -> dict:
        body = self.request_body("getTransactionDetailsRequest", {"transId": trans_id})
        data = self._call(body, what=f"the details of transaction {trans_id}", timeout=self.timeout_of(policy))
        transaction = data.get("transaction")
        if not isinstance(transaction, dict):
            raise malformed("Authorize.Net", f"the details of {trans_id}", ValueError("no transaction"))
        return transaction

    def lookup(self, reference: str, *, policy=None) -> AuthorisationResult | None:
        row = self._find(reference, policy=policy)
        if row is None:
            return None
        trans_id = str(row.get("transId"))
        details = self._details(trans_id, policy=policy)
        try:
            return _from_details(reference, details, self.settings.currency)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("Authorize.Net", f"the details of {trans_id}", exc) from exc

    # -- void, reversal, refund -----------------------------------------------------------------

    def _void(self, reference: str, trans_id: str, *, policy=None, kind: str) -> AuthorisationResult:
        body = self.request_body("createTransactionRequest", {"transactionRequest": {
            "transactionType": "voidTransaction", "refTransId": trans_id,
        }}, ref_id=reference)
        data = self._call(body, what="the void", timeout=self.timeout_of(policy))
        answer = data.get("transactionResponse") or {}
        errors = _list(answer.get("errors"), "error")
        reason = _reason_code(answer)
        if str(answer.get("responseCode")) == APPROVED or reason == "310":  # 310: already voided
            return AuthorisationResult(reference=reference, acquirer_id=trans_id, status="approved",
                                       response_code="00", auth_code=str(answer.get("authCode") or "") or None,
                                       message="voided", kind=kind)
        text = str(errors[0].get("errorText") or "") if errors else ""
        return AuthorisationResult(reference=reference, acquirer_id=trans_id, status="declined", response_code="12",
                                   auth_code=None, message=f"void refused ({reason}: {text})".strip(), kind=kind)

    def reverse(self, reference: str, *, reason: str, policy=None) -> AuthorisationResult:
        row = self._find(reference, policy=policy)
        if row is None:
            return AuthorisationResult(reference=reference, acquirer_id="", status="reversed", response_code="00",
                                       auth_code=None, message="Authorize.Net holds nothing under this reference",
                                       kind="sale")
        status = str(row.get("transactionStatus"))
        trans_id = str(row.get("transId"))
        if status not in PAID_STATUSES | REFUND_STATUSES:
            return AuthorisationResult(reference=reference, acquirer_id=trans_id, status="reversed",
                                       response_code="00", auth_code=None, message=f"nothing to reverse ({status})",
                                       kind="sale")
        result = self._void(reference, trans_id, policy=policy, kind="sale")
        if result.approved:
            return AuthorisationResult(reference=reference, acquirer_id=trans_id, status="reversed",
                                       response_code="00", auth_code=None, message="voided", kind="sale")
        return result

    def void(self, reference: str, original_reference: str, *, policy=None) -> AuthorisationResult:
        original = self._find(original_reference, policy=policy)
        if original is None:
            raise GatewayRejected(f"Authorize.Net holds no payment under {original_reference}",
                                  hint="only a payment taken through this acquirer can be voided")
        return self._void(reference, str(original.get("transId")), policy=policy, kind="void")

    def refund(self, request: RefundRequest, *, policy=None) -> AuthorisationResult:
        already = self.lookup(request.reference, policy=policy)
        if already is not None:  # an earlier attempt arrived: its answer, not a second refund
            return already
        original = self._find(request.original_reference, policy=policy)
        if original is None:
            raise GatewayRejected(f"Authorize.Net holds no payment under {request.original_reference}",
                                  hint="only a payment taken through this acquirer can be refunded")
        last_four = str(original.get("accountNumber") or "")[-4:]
        body = self.request_body("createTransactionRequest", {"transactionRequest": {
            "transactionType": "refundTransaction",
            "amount": decimal_amount(request.amount_minor, request.currency),
            "currencyCode": request.currency,
            "payment": {"creditCard": {"cardNumber": last_four, "expirationDate": "XXXX"}},
            "refTransId": str(original.get("transId")),
            "order": {"invoiceNumber": request.reference, "description": "mpos refund"},
            "transactionSettings": {"setting": [{"settingName": "duplicateWindow", "settingValue": DUPLICATE_WINDOW}]},
        }}, ref_id=request.reference)
        data = self._call(body, what="the refund", timeout=self.timeout_of(policy))
        answer = data.get("transactionResponse") or {}
        if _reason_code(answer) == "54":
            return AuthorisationResult(
                reference=request.reference, acquirer_id=result.acquirer_id, status="declined", response_code="12",
                auth_code=None, kind="refund",
                message="Authorize.Net refunds only settled sales (reason 54): void it today, or refund it after "
                        "the gateway's daily settlement",
            )
        return self._transaction_result(request.reference, data, "the refund", kind="refund",
                                        amount=request.amount_minor, currency=request.currency)

    # -- settlement ---------------------------------------------------------------------------------

    def close_batch(self, batch_reference: str, business_date: str) -> BatchTotals:
        book = self.book.load()
        saved = self.saved_batch(book, batch_reference, with_references=True)
        if saved is not None:
            return saved
        now = self.clock().astimezone(timezone.utc)
        end = self.batch_end(business_date)
        cursor = datetime.fromisoformat(book["cursor"]) if book.get("cursor") else end - BATCH_LOOKBACK
        reported = set(book.get("reported") or [])
        rows = list(self._unsettled())
        batch_ids = []
        for batch in self._batches(max(cursor - timedelta(days=1), now - BATCH_LOOKBACK), now):
            batch_ids.append(str(batch.get("batchId")))
            rows += self._batch_transactions(str(batch.get("batchId")))
        totals: dict[str, dict[str, int]] = {}
        references: list[str] = []
        counted: list[str] = []
        currency = self.settings.currency  # an Authorize.Net account settles in one currency
        try:
            for row in rows:
                trans_id = str(row["transId"])
                if trans_id in reported or trans_id in counted:
                    continue
                if _parse_utc(row["submitTimeUTC"]) > end:
                    continue
                status = str(row.get("transactionStatus"))
                if status in PAID_STATUSES:
                    kind = "sale"
                elif status in REFUND_STATUSES:
                    kind = "refund"
                else:
                    continue  # declined, voided, errors: no money moves
                add_to_totals(totals, currency, kind, minor_units(row["settleAmount"], currency))
                counted.append(trans_id)
                if row.get("invoiceNumber"):
                    references.append(str(row["invoiceNumber"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("Authorize.Net", "the transaction lists", exc) from exc
        batch_id = f"{batch_reference}@{utc_text(end)}"
        book["batches"][batch_reference] = {"batch_id": batch_id, "totals": totals, "references": references,
                                            "gateway_batches": batch_ids}
        book["reported"] = sorted(reported | set(counted))
        book["cursor"] = end.isoformat()
        self.book.save(book)
        return BatchTotals(batch_id=batch_id, totals=totals, references=references)


def _parse_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _reason_code(answer: dict) -> str:
    errors = _list(answer.get("errors"), "error")
    return str(errors[0].get("errorCode") or "") if errors else ""


def _list(value: Any, item: str) -> list[dict]:
    """A repeated element as the JSON API gives it: a list, or ``{item: [...]}``."""
    if isinstance(value, dict):
        value = value.get(item, [])
    if isinstance(value, dict):
        value = [value]
    return [row for row in value or [] if isinstance(row, dict)]


def _emv_response(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    if value.get("tlvData"):
        return emv_tags_of(str(value["tlvData"]))
    return {str(tag.get("name")).upper(): str(tag.get("value")).upper() for tag in _list(value.get("tags"), "tag")}


def _from_details(reference: str, details: dict, currency: str) -> AuthorisationResult:
    status = str(details.get("transactionStatus"))
    kind = "refund" if details.get("transactionType") == "refundTransaction" else "sale"
    amount = minor_units(details.get("authAmount") or details.get("settleAmount") or "0", currency)
    trans_id = str(details.get("transId"))
    auth_code = str(details.get("authCode") or "") or None
    base = dict(reference=reference, acquirer_id=trans_id, kind=kind, amount_minor=amount, currency=currency)
    if status in PAID_STATUSES | REFUND_STATUSES:
        return AuthorisationResult(status="settled" if "ettled" in status and "Pending" not in status else "approved",
                                   response_code="00", auth_code=auth_code, message=status, **base)
    if status == "voided":
        return AuthorisationResult(status="reversed", response_code="00", auth_code=auth_code, message="voided",
                                   **base)
    if status == "declined":
        reason = str(details.get("responseReasonCode") or "2")
        iso, words = REASON_CODES.get(reason, ("05", "do not honour"))
        return AuthorisationResult(status="declined", response_code=iso, auth_code=None, message=words, **base)
    return AuthorisationResult(status=status, response_code="96", auth_code=None, message=status, **base)
