"""A fake Authorize.Net JSON API on loopback (POST /xml/v1/request.api).

Every request body is validated against the published AnetApiSchema.xsd
(tests/fakes/anet_xsd.py) when the schema is at hand; a body that does not
validate is answered E00003 as the real API does and noted in ``refused``.
Answers start with a UTF-8 byte order mark, as the real API's do.

Documented behaviour kept (API reference, "Payment Transactions",
"Transaction Reporting", "Response codes"):

- merchantAuthentication checked: E00007 otherwise;
- authCaptureTransaction: responseCode 1 approved, 2 declined (reason 2, the
  processor's code in rawResponseCode), 3 error (reason 8 expired card);
  emvResponse with the issuer's tags;
- a repeat of a sale or refund (same invoiceNumber and amount) inside
  duplicateWindow: responseCode 3, reason 11, with the original's transId and
  authCode (the "enhanced duplicate response");
- voidTransaction by refTransId: the transaction becomes ``voided``; again:
  reason 310 "This transaction has already been voided.";
- refundTransaction by refTransId: only on a settled sale (reason 54
  otherwise), never more than is left (reason 55);
- getUnsettledTransactionList, getSettledBatchList (with statistics),
  getTransactionList, getTransactionDetails (E00040 when unknown).

``settle_pending()`` is the gateway's daily settlement cut-off. The fake's
own choices where the reference says nothing are marked "ours".
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

from tests.fakes import anet_xsd
from tests.fakes.common import Entry, FakeGateway

LOGIN_ID = "mposLogin42"
TRANSACTION_KEY = "Tk9mPos7Fake3Key"  # 16 characters, as the schema allows at most

BOM = "\ufeff".encode()
OK = {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]}
TEXTS = {
    "1": "This transaction has been approved.",
    "2": "This transaction has been declined.",
    "8": "The credit card has expired.",
    "11": "A duplicate transaction has been submitted.",
    "16": "The transaction cannot be found.",
    "54": "The referenced transaction does not meet the criteria for issuing a credit.",
    "55": "The sum of credits against the referenced transaction would exceed original debit amount.",
    "310": "This transaction has already been voided.",
    "311": "This transaction has already been captured.",
}


def _time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _minor(text) -> int:
    whole, _, fraction = str(text).partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


class FakeAuthorizeNet(FakeGateway):
    name = "authorizenet"

    def __init__(self, *, login_id: str = LOGIN_ID, transaction_key: str = TRANSACTION_KEY, **options) -> None:
        super().__init__(**options)
        self.login_id, self.transaction_key = login_id, transaction_key
        self.validated = 0  # bodies that validated against the XSD
        self.batches: dict[str, datetime] = {}

    def credentials(self) -> dict[str, str]:
        """The settings (environment) with which mpos authenticates to this fake."""
        return {"MPOS_GATEWAY_KEY": self.transaction_key, "MPOS_GATEWAY_MERCHANT_ID": self.login_id}

    def settle_pending(self) -> str:
        with self.lock:
            closing = [e for e in self.entries.values()
                       if e.kind in ("sale", "refund") and not e.settled_batch and not e.extra.get("closed_in")]
            batch = super().settle_pending()
            self.batches[batch] = datetime.now(timezone.utc)
            for entry in closing:  # declined and voided ones close with the batch too
                entry.extra["closed_in"] = batch
        return batch

    def transaction_status(self, entry: Entry) -> str:
        if entry.kind == "refund":
            return "voided" if entry.voided else ("refundSettledSuccessfully" if entry.settled_batch
                                                  else "refundPendingSettlement")
        if not entry.approved:
            return "declined"
        if entry.voided:
            return "voided"
        return "settledSuccessfully" if entry.settled_batch else "capturedPendingSettlement"

    # -- the endpoint ----------------------------------------------------------------------

    def reply(self, body: dict):
        return 200, {"Content-Type": "application/json; charset=utf-8"}, BOM + json.dumps(body).encode(), False

    def handle(self, method, path, headers, body):
        if method != "POST" or path != "/xml/v1/request.api":
            return 404, {"Content-Type": "text/plain"}, b"not found", False
        try:
            data = json.loads(body.decode("utf-8-sig"))
            (root, content), = data.items()
        except (ValueError, AttributeError):
            return self.reply({"messages": {"resultCode": "Error", "message": [
                {"code": "E00002", "text": "The content-type specified is not supported."}]}})
        self.requests.append(("POST", root))
        if anet_xsd.available():
            problems = anet_xsd.errors_of(data)
            if problems:
                self.refused.append(f"{root}: {problems[0]}")
                return self.reply({"messages": {"resultCode": "Error", "message": [
                    {"code": "E00003", "text": f"The element is invalid: {problems[0]}"}]}})
            self.validated += 1
        auth = content.get("merchantAuthentication") or {}
        if (auth.get("name"), auth.get("transactionKey")) != (self.login_id, self.transaction_key):
            return self.reply({"messages": {"resultCode": "Error", "message": [
                {"code": "E00007", "text": "User authentication failed due to invalid authentication values."}]}})
        handler = {
            "createTransactionRequest": self.create_transaction,
            "getUnsettledTransactionListRequest": self.unsettled_list,
            "getSettledBatchListRequest": self.settled_batches,
            "getTransactionListRequest": self.transaction_list,
            "getTransactionDetailsRequest": self.details,
        }.get(root)
        if handler is None:
            return self.reply({"messages": {"resultCode": "Error", "message": [
                {"code": "E00045", "text": "The root node does not reference a valid XML namespace."}]}})
        return handler(content)

    # -- transactions ----------------------------------------------------------------------------

    def _answer(self, ref_id, *, code: str, reason: str, entry: Entry | None = None, raw: str | None = None,
                emv: dict | None = None):
        response = {"responseCode": code}
        if entry is not None:
            response.update(authCode=entry.auth_code or "", avsResultCode="P", cvvResultCode="", cavvResultCode="",
                            transId=entry.gateway_id, refTransID="", transHash="", testRequest="0",
                            accountNumber=f"XXXX{entry.last_four}", accountType=entry.scheme or "")
        else:
            response.update(authCode="", transId="0", accountNumber="", accountType="")
        if raw:
            response["rawResponseCode"] = raw
        if code == "1":
            response["messages"] = [{"code": reason, "description": TEXTS.get(reason, "")}]
        else:
            response["errors"] = [{"errorCode": reason, "errorText": TEXTS.get(reason, "")}]
        if emv:
            from mpos_cli.drivers.neo2 import tlv

            response["emvResponse"] = {"tlvData": tlv.encode(emv).hex().upper(),
                                       "tags": [{"name": tag, "value": value} for tag, value in emv.items()]}
        messages = OK if code == "1" else {"resultCode": "Error", "message": [
            {"code": "E00027", "text": "The transaction was unsuccessful."}]}
        return self.reply({"transactionResponse": response, "refId": ref_id, "messages": messages})

    def _window(self, request: dict) -> timedelta:
        for setting in (request.get("transactionSettings") or {}).get("setting") or []:
            if setting.get("settingName") == "duplicateWindow":
                return timedelta(seconds=max(0, min(28800, int(setting.get("settingValue") or 0))))
        return timedelta(seconds=120)

    def _duplicate(self, request: dict, kind: str, amount: int) -> Entry | None:
        invoice = (request.get("order") or {}).get("invoiceNumber")
        window = self._window(request)
        now = datetime.now(timezone.utc)
        for entry in self.entries.values():
            if entry.kind == kind and entry.reference == invoice and entry.total_minor == amount \
                    and now - entry.submitted_at <= window:
                return entry
        return None

    def create_transaction(self, content: dict):
        request = content["transactionRequest"]
        ref_id = content.get("refId")
        kind = request["transactionType"]
        if kind == "authCaptureTransaction":
            return self.sale(ref_id, request)
        if kind == "voidTransaction":
            return self.void(ref_id, request)
        if kind == "refundTransaction":
            return self.refund(ref_id, request)
        return self._answer(ref_id, code="3", reason="16")  # ours: other types are not used by mpos

    def _card_data(self, payment: dict) -> tuple[str, dict[str, str], str | None, str]:
        """(sealed card objects, EMV tags, PIN objects, entry mode) from the payment element."""
        from mpos_cli.drivers.neo2 import tlv

        if "encryptedTrackData" in payment:
            value = payment["encryptedTrackData"]["FormOfPayment"]["Value"]
            return value["Scheme"]["DUKPT"]["EncryptedData"]["Value"], {}, None, "swipe"
        raw = base64.b64decode(payment["emv"]["emvData"])
        sealed, emv, pin = [], {}, {}
        for obj in tlv.iter_objects(raw):
            if obj.form == tlv.ENCRYPTED or obj.tag == "DFEE12":
                sealed.append(obj)
            elif obj.tag in ("99", "DFEE51"):
                pin[obj.tag] = obj.value.hex().upper()
            else:
                emv[obj.tag] = obj.value.hex().upper()
        entry_mode = "contactless" if emv.get("9F39") == "07" else "chip"
        pin_blob = tlv.encode(pin).hex().upper() if pin else None
        return tlv.encode_objects(sealed).hex().upper(), emv, pin_blob, entry_mode

    def sale(self, ref_id, request: dict):
        amount = _minor(request["amount"])
        invoice = (request.get("order") or {}).get("invoiceNumber") or ref_id
        with self.lock:
            duplicate = self._duplicate(request, "sale", amount)
            if duplicate is not None:
                return self._answer(ref_id, code="3", reason="11", entry=duplicate)
        blob, emv, pin_blob, entry_mode = self._card_data(request["payment"])
        decision = self.issuer_decision(total_minor=amount, entry_mode=entry_mode, card_blob=blob, emv=emv,
                                        pin_blob=pin_blob)
        entry = self.add(Entry(
            reference=invoice, gateway_id=self.new_id(), kind="sale", response_code=decision.response_code,
            total_minor=amount, currency=request.get("currencyCode") or "USD", submitted_at=datetime.now(timezone.utc),
            auth_code=decision.auth_code, last_four=(decision.masked_pan or "0000")[-4:], scheme=decision.scheme or "",
            emv_response=dict(decision.emv),
        ))
        code = decision.response_code
        if code == "00":
            status, headers, payload, _ = self._answer(ref_id, code="1", reason="1", entry=entry, emv=entry.emv_response)
        elif code == "54":
            status, headers, payload, _ = self._answer(ref_id, code="3", reason="8", entry=entry, emv=entry.emv_response)
        else:
            status, headers, payload, _ = self._answer(ref_id, code="2", reason="2", entry=entry, raw=code,
                                                       emv=entry.emv_response)
        return status, headers, payload, decision.hold

    def void(self, ref_id, request: dict):
        with self.lock:
            target = self.by_id.get(str(request.get("refTransId")))
            if target is None:
                return self._answer(ref_id, code="3", reason="16")
            if target.voided:
                return self._answer(ref_id, code="3", reason="310", entry=target)
            if target.settled_batch:
                return self._answer(ref_id, code="3", reason="311", entry=target)  # ours: settled, not voidable
            if target.kind == "sale" and target.refunded_minor:
                return self._answer(ref_id, code="3", reason="311", entry=target)  # ours
            if target.approved:
                target.voided, target.voided_by = True, ref_id or target.reference
                if target.kind == "refund":
                    self.entries[target.original_reference].refunded_minor -= target.total_minor
            return self._answer(ref_id, code="1", reason="1", entry=target)

    def refund(self, ref_id, request: dict):
        amount = _minor(request["amount"])
        invoice = (request.get("order") or {}).get("invoiceNumber") or ref_id
        with self.lock:
            duplicate = self._duplicate(request, "refund", amount)
            if duplicate is not None:
                return self._answer(ref_id, code="3", reason="11", entry=duplicate)
            sale = self.by_id.get(str(request.get("refTransId")))
            card = ((request.get("payment") or {}).get("creditCard") or {}).get("cardNumber")
            if sale is None or sale.kind != "sale" or not sale.approved or sale.voided or not sale.settled_batch \
                    or card != sale.last_four:
                return self._answer(ref_id, code="3", reason="54")
            if amount > sale.total_minor - sale.refunded_minor:
                return self._answer(ref_id, code="3", reason="55")
            sale.refunded_minor += amount
            entry = self.add(Entry(reference=invoice, gateway_id=self.new_id(), kind="refund", response_code="00",
                                   total_minor=amount, currency=sale.currency, submitted_at=datetime.now(timezone.utc),
                                   original_reference=sale.reference, last_four=sale.last_four, scheme=sale.scheme))
            return self._answer(ref_id, code="1", reason="1", entry=entry)

    # -- reporting ---------------------------------------------------------------------------------

    def _summary(self, entry: Entry) -> dict:
        return {
            "transId": entry.gateway_id, "submitTimeUTC": _time(entry.submitted_at),
            "submitTimeLocal": entry.submitted_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
            "transactionStatus": self.transaction_status(entry), "invoiceNumber": entry.reference,
            "accountType": entry.scheme or "Visa", "accountNumber": f"XXXX{entry.last_four}",
            "settleAmount": float(_amount(entry.total_minor) if entry.approved and not entry.voided else "0.00"),
            "marketType": "Retail", "product": "Card Present",
        }

    def _page(self, rows: list, content: dict) -> list:
        paging = content.get("paging") or {"limit": 1000, "offset": 1}
        limit, offset = int(paging["limit"]), int(paging["offset"])
        return rows[(offset - 1) * limit: offset * limit]

    def unsettled_list(self, content: dict):
        with self.lock:
            rows = [self._summary(e) for e in self.entries.values()
                    if e.kind in ("sale", "refund") and not e.settled_batch and not e.extra.get("closed_in")]
        rows.sort(key=lambda row: row["submitTimeUTC"], reverse=True)
        page = self._page(rows, content)
        body = {"transactions": page, "totalNumInResultSet": len(rows), "messages": OK} if rows else \
            {"messages": {"resultCode": "Ok", "message": [{"code": "I00004", "text": "No records found."}]}}
        return self.reply(body)

    def settled_batches(self, content: dict):
        first = datetime.fromisoformat(str(content.get("firstSettlementDate")).replace("Z", "+00:00"))
        last = datetime.fromisoformat(str(content.get("lastSettlementDate")).replace("Z", "+00:00"))
        batches = []
        with self.lock:
            for batch, at in self.batches.items():
                if not first <= at <= last + timedelta(seconds=1):
                    continue
                members = [e for e in self.entries.values() if e.extra.get("closed_in") == batch]
                charge = [e for e in members if e.kind == "sale" and e.approved and not e.voided]
                refund = [e for e in members if e.kind == "refund" and not e.voided]
                row = {"batchId": batch, "settlementTimeUTC": _time(at),
                       "settlementTimeLocal": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                       "settlementState": "settledSuccessfully", "paymentMethod": "creditCard",
                       "marketType": "Retail", "product": "Card Present"}
                if content.get("includeStatistics"):
                    row["statistics"] = [{
                        "accountType": "Visa",
                        "chargeAmount": float(_amount(sum(e.total_minor for e in charge))), "chargeCount": len(charge),
                        "refundAmount": float(_amount(sum(e.total_minor for e in refund))), "refundCount": len(refund),
                        "voidCount": sum(1 for e in members if e.voided),
                        "declineCount": sum(1 for e in members if not e.approved), "errorCount": 0,
                    }]
                batches.append(row)
        if not batches:
            return self.reply({"messages": {"resultCode": "Ok", "message": [{"code": "I00004", "text": "No records found."}]}})
        return self.reply({"batchList": batches, "messages": OK})

    def transaction_list(self, content: dict):
        batch = str(content.get("batchId"))
        with self.lock:
            rows = [self._summary(e) for e in self.entries.values() if e.extra.get("closed_in") == batch]
        rows.sort(key=lambda row: row["submitTimeUTC"])
        page = self._page(rows, content)
        return self.reply({"transactions": page, "totalNumInResultSet": len(rows), "messages": OK})

    def details(self, content: dict):
        with self.lock:
            entry = self.by_id.get(str(content.get("transId")))
            if entry is None or entry.kind not in ("sale", "refund"):
                return self.reply({"messages": {"resultCode": "Error", "message": [
                    {"code": "E00040", "text": "The record cannot be found."}]}})
            approved = entry.approved
            transaction = {
                "transId": entry.gateway_id, "submitTimeUTC": _time(entry.submitted_at),
                "submitTimeLocal": entry.submitted_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                "transactionType": "authCaptureTransaction" if entry.kind == "sale" else "refundTransaction",
                "transactionStatus": self.transaction_status(entry),
                "responseCode": 1 if approved else 2, "responseReasonCode": 1 if approved else 2,
                "responseReasonDescription": "Approval" if approved else "Decline",
                "authCode": entry.auth_code or "", "authAmount": float(_amount(entry.total_minor)),
                "settleAmount": float(_amount(entry.total_minor if approved and not entry.voided else 0)),
                "order": {"invoiceNumber": entry.reference},
                "payment": {"creditCard": {"cardNumber": f"XXXX{entry.last_four}", "expirationDate": "XXXX",
                                           "cardType": entry.scheme or "Visa"}},
            }
            if entry.settled_batch:
                transaction["batch"] = {"batchId": entry.settled_batch, "settlementState": "settledSuccessfully"}
        return self.reply({"transaction": transaction, "messages": OK})
