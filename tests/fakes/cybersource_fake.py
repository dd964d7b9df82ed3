"""A fake Cybersource REST API on loopback: what mpos's adapter uses, as the
public REST reference documents it (paths, field names, statuses, reasons).

Every request's HTTP Signature and Digest are checked here by a verifier
written apart from the adapter's signer: the signing string is rebuilt from
the headers as received, the HMAC recomputed with the shared secret, the
digest recomputed from the raw body; a request that fails is answered 401
(as Cybersource does, "Authentication Failed") and noted in ``refused``.

Documented behaviour kept:

- POST /pts/v2/payments: 201 AUTHORIZED or DECLINED (errorInformation.reason,
  processorInformation.responseCode), 400 INVALID_DATA / MISSING_FIELD for a
  bad request (clear 57/5A in emv.tags are refused), EMV answer tags in
  pointOfSaleInformation.emv.tags; a deferred authorisation marked by
  processingInformation.authorizationOptions.deferredAuthIndicator (kept in
  the ledger as ``deferred``);
- POST /pts/v2/payments/{id}/refunds (201 PENDING) and /voids (201 VOIDED;
  400 NOT_VOIDABLE once batched);
- POST /pts/v2/voids: the timeout void by clientReferenceInformation.transactionId;
- POST /tss/v2/searches: query ``clientReferenceInformation.code:<ref>``;
- GET /reporting/v3/payment-batch-summaries: sales and credits per currency
  for transactions submitted in [startTime, endTime).

The fake's own choices where the reference says nothing are marked "ours".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from tests.fakes.common import Entry, FakeGateway

MERCHANT_ID = "mpos_test_merchant"
KEY_ID = "0f5a8c1e-6b2d-4c3e-9a7f-2d4e6f8a0b1c"
SHARED_SECRET = base64.b64encode(b"fake-cybersource-shared-secret!!").decode()

REASON_BY_CODE = {
    "05": "PROCESSOR_DECLINED", "51": "INSUFFICIENT_FUND", "54": "EXPIRED_CARD", "55": "INVALID_PIN",
    "91": "ISSUER_UNAVAILABLE", "14": "INVALID_ACCOUNT", "13": "PROCESSOR_DECLINED", "30": "PROCESSOR_DECLINED",
    "88": "PROCESSOR_DECLINED", "12": "PROCESSOR_DECLINED",
}
ENTRY_MODES = {"contact": "chip", "contactless": "contactless", "swiped": "swipe"}
FORBIDDEN_TAGS = {"56", "57", "5A", "5F20", "5F24", "99", "9F0B", "9F1F", "9F20"}


def _json(status: int, body) -> tuple[int, dict[str, str], bytes, bool]:
    return status, {"Content-Type": "application/hal+json"}, json.dumps(body).encode(), False


def _error(status: int, reason: str, message: str, field: str | None = None):
    body = {"submitTimeUtc": _now_text(), "status": "INVALID_REQUEST", "reason": reason, "message": message}
    if field:
        body["details"] = [{"field": field, "reason": "INVALID"}]
    return _json(status, body)


def _now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minor(text: str) -> int:
    whole, _, fraction = str(text).partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class FakeCybersource(FakeGateway):
    name = "cybersource"

    def __init__(self, *, merchant_id: str = MERCHANT_ID, key_id: str = KEY_ID, secret: str = SHARED_SECRET,
                 **options) -> None:
        super().__init__(**options)
        self.merchant_id, self.key_id, self.secret = merchant_id, key_id, secret
        self.verified = 0  # requests whose signature and digest checked out
        self.timeout_voids: dict[str, list[str]] = {}  # code -> ids of timeout voids that voided something

    def credentials(self) -> dict[str, str]:
        """The settings (environment) with which mpos signs requests this fake accepts."""
        return {"MPOS_GATEWAY_KEY": self.secret, "MPOS_GATEWAY_MERCHANT_ID": self.merchant_id,
                "MPOS_GATEWAY_KEY_ID": self.key_id}

    # -- an independent HTTP Signature verifier ------------------------------------------

    def verify(self, method: str, target: str, headers: dict[str, str], body: bytes) -> str | None:
        """Why the request's signature does not hold, or None."""
        params = dict(re.findall(r'(\w+)="([^"]*)"', headers.get("signature", "")))
        if params.get("keyid") != self.key_id:
            return "unknown keyid"
        if params.get("algorithm") != "HmacSHA256":
            return "algorithm is not HmacSHA256"
        if headers.get("v-c-merchant-id") != self.merchant_id:
            return "wrong v-c-merchant-id"
        signed = params.get("headers", "").split(" ")
        wanted = ["host", "date", "request-target", "v-c-merchant-id"]
        if method == "POST":
            wanted.insert(3, "digest")
            expected_digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
            if headers.get("digest") != expected_digest:
                return "Digest does not match the body"
        if signed != wanted:
            return f"signed headers {signed} are not {wanted}"
        lines = []
        for name in signed:
            value = f"{method.lower()} {target}" if name == "request-target" else headers.get(name)
            if value is None:
                return f"header {name} missing"
            lines.append(f"{name}: {value}")
        mac = hmac.new(base64.b64decode(self.secret), "\n".join(lines).encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(mac).decode(), params.get("signature", "")):
            return "signature does not verify"
        return None

    # -- routing -------------------------------------------------------------------------

    def handle(self, method, path, headers, body):
        problem = self.verify(method, path, headers, body)
        if problem:
            self.refused.append(f"{method} {path}: {problem}")
            return _json(401, {"response": {"rmsg": "Authentication Failed"}})
        self.verified += 1
        route = urlsplit(path).path
        self.requests.append((method, route))
        if method == "GET" and route == "/reporting/v3/payment-batch-summaries":
            return self.batch_summaries(parse_qs(urlsplit(path).query))
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "INVALID_DATA", "the body is not JSON")
        if route == "/pts/v2/payments":
            return self.payment(data)
        if route == "/pts/v2/voids":
            return self.timeout_void(data)
        if route == "/tss/v2/searches":
            return self.search(data)
        match = re.fullmatch(r"/pts/v2/payments/([^/]+)/(refunds|voids)", route)
        if match:
            return self.refund(match[1], data) if match[2] == "refunds" else self.void(match[1], data)
        return _json(404, {"message": f"no resource {route}"})

    # -- payments -------------------------------------------------------------------------

    def payment(self, data: dict):
        from mpos_cli.drivers.neo2 import tlv

        try:
            reference = data["clientReferenceInformation"]["code"]
            transaction_id = data["clientReferenceInformation"].get("transactionId")
            amounts = data["orderInformation"]["amountDetails"]
            total, currency = _minor(amounts["totalAmount"]), amounts["currency"]
            fluid = data["paymentInformation"]["fluidData"]
            blob = base64.b64decode(fluid["value"]).hex().upper()
            ksn = fluid["keySerialNumber"]
            pos = data["pointOfSaleInformation"]
            entry_mode = ENTRY_MODES[pos["entryMode"]]
        except (KeyError, TypeError, ValueError) as exc:
            return _error(400, "MISSING_FIELD", f"a required field is missing or invalid ({exc})")
        if fluid.get("descriptor") != "RklEPUVNVi5QQVlNRU5ULkFQSQ==" or fluid.get("encoding") != "Base64":
            return _error(400, "INVALID_DATA", "unknown fluidData descriptor or encoding", "paymentInformation.fluidData")
        if _data_ksn(blob) != ksn:
            return _error(400, "INVALID_DATA", "keySerialNumber is not the data's KSN", "paymentInformation.fluidData.keySerialNumber")
        emv_hex = (pos.get("emv") or {}).get("tags") or ""
        emv = {obj.tag: obj.value.hex().upper() for obj in tlv.iter_objects(bytes.fromhex(emv_hex))} if emv_hex else {}
        if FORBIDDEN_TAGS & set(emv):
            return _error(400, "INVALID_DATA", "emv.tags holds sensitive tags", "pointOfSaleInformation.emv.tags")
        # A deferred authorisation (card-present guide, "Deferred Authorization"):
        # deferredAuthIndicator is a Boolean, storeAndForwardIndicator Y or N
        # (field reference); the issuer makes no ARPC for a card long gone.
        options = (data.get("processingInformation") or {}).get("authorizationOptions") or {}
        deferred = options.get("deferredAuthIndicator", False)
        if not isinstance(deferred, bool):
            return _error(400, "INVALID_DATA", "deferredAuthIndicator is a Boolean",
                          "processingInformation.authorizationOptions.deferredAuthIndicator")
        if pos.get("storeAndForwardIndicator", "N") not in ("Y", "N"):
            return _error(400, "INVALID_DATA", "storeAndForwardIndicator is Y or N",
                          "pointOfSaleInformation.storeAndForwardIndicator")
        pin_blob = None
        if pos.get("encryptedPin"):
            pin_blob = tlv.encode({"99": pos["encryptedPin"], "DFEE51": pos["encryptedKeySerialNumber"]}).hex().upper()
        with self.lock:
            if transaction_id and any(e.extra.get("transaction_id") == transaction_id for e in self.entries.values()):
                return _error(400, "DUPLICATE_REQUEST", "transactionId already used")  # ours: the reference is silent
        decision = self.issuer_decision(total_minor=total, entry_mode=entry_mode, card_blob=blob, emv=emv,
                                        pin_blob=pin_blob, deferred=deferred)
        entry = self.add(Entry(
            reference=reference, gateway_id=self.new_id(), kind="sale", response_code=decision.response_code,
            total_minor=total, currency=currency, submitted_at=datetime.now(timezone.utc),
            auth_code=decision.auth_code, last_four=(decision.masked_pan or "")[-4:], scheme=decision.scheme or "",
            emv_response=dict(decision.emv), deferred=deferred,
            extra={"transaction_id": transaction_id, "store_and_forward": pos.get("storeAndForwardIndicator") == "Y"},
        ))
        status, headers, payload, _ = _json(201, self.payment_answer(entry))
        return status, headers, payload, decision.hold

    def payment_answer(self, entry: Entry) -> dict:
        answer = {
            "_links": {"self": {"href": f"/pts/v2/payments/{entry.gateway_id}", "method": "GET"}},
            "id": entry.gateway_id,
            "submitTimeUtc": entry.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "AUTHORIZED" if entry.approved else "DECLINED",
            "clientReferenceInformation": {"code": entry.reference},
            "orderInformation": {"amountDetails": {"totalAmount": _amount(entry.total_minor),
                                                   "authorizedAmount": _amount(entry.total_minor) if entry.approved else "0.00",
                                                   "currency": entry.currency}},
            "processorInformation": {"responseCode": entry.response_code, "transactionId": entry.gateway_id[-6:]},
        }
        if entry.approved:
            answer["processorInformation"]["approvalCode"] = entry.auth_code
        else:
            answer["errorInformation"] = {"reason": REASON_BY_CODE.get(entry.response_code, "PROCESSOR_DECLINED"),
                                          "message": "Decline - the issuer declined the request"}
        if entry.emv_response:
            from mpos_cli.drivers.neo2 import tlv

            answer["pointOfSaleInformation"] = {"emv": {"tags": tlv.encode(entry.emv_response).hex().upper()}}
        return answer

    def refund(self, payment_id: str, data: dict):
        try:
            reference = data["clientReferenceInformation"]["code"]
            amounts = data["orderInformation"]["amountDetails"]
            amount, currency = _minor(amounts["totalAmount"]), amounts["currency"]
        except (KeyError, TypeError, ValueError) as exc:
            return _error(400, "MISSING_FIELD", f"a required field is missing ({exc})")
        with self.lock:
            sale = self.by_id.get(payment_id)
            if sale is None or sale.kind != "sale":
                return _json(404, {"message": "The requested resource does not exist"})
            if not sale.approved or sale.voided or currency != sale.currency \
                    or amount > sale.total_minor - sale.refunded_minor:
                return _error(400, "INVALID_DATA", "the amount cannot be refunded on this payment",
                              "orderInformation.amountDetails.totalAmount")
            sale.refunded_minor += amount
            entry = self.add(Entry(reference=reference, gateway_id=self.new_id(), kind="refund", response_code="00",
                                   total_minor=amount, currency=currency, submitted_at=datetime.now(timezone.utc),
                                   original_reference=sale.reference,
                                   extra={"transaction_id": data["clientReferenceInformation"].get("transactionId")}))
        return _json(201, {"id": entry.gateway_id, "submitTimeUtc": _now_text(), "status": "PENDING",
                           "clientReferenceInformation": {"code": reference},
                           "refundAmountDetails": {"refundAmount": _amount(amount), "currency": currency}})

    def _cancel(self, target: Entry, void_reference: str):
        """Void ``target`` (a sale or refund) unless batched already."""
        if target.settled_batch:
            return _error(400, "NOT_VOIDABLE", "the transaction was already submitted for settlement")
        if target.approved and not target.voided:
            if target.kind == "sale" and target.refunded_minor:
                return _error(400, "NOT_VOIDABLE", "the payment has refunds")  # ours
            target.voided, target.voided_by = True, void_reference
            if target.kind == "refund":
                self.entries[target.original_reference].refunded_minor -= target.total_minor
        return None

    def void(self, payment_id: str, data: dict):
        reference = (data.get("clientReferenceInformation") or {}).get("code")
        if not reference:
            return _error(400, "MISSING_FIELD", "clientReferenceInformation.code is required")
        with self.lock:
            sale = self.by_id.get(payment_id)
            if sale is None:
                return _json(404, {"message": "The requested resource does not exist"})
            refused = self._cancel(sale, reference)
            if refused:
                return refused
            entry = self.add(Entry(reference=reference, gateway_id=self.new_id(), kind="void", response_code="00",
                                   total_minor=sale.total_minor, currency=sale.currency,
                                   submitted_at=datetime.now(timezone.utc), original_reference=sale.reference))
        return _json(201, {"id": entry.gateway_id, "submitTimeUtc": _now_text(), "status": "VOIDED",
                           "clientReferenceInformation": {"code": reference},
                           "voidAmountDetails": {"voidAmount": _amount(sale.total_minor), "currency": sale.currency}})

    def timeout_void(self, data: dict):
        info = data.get("clientReferenceInformation") or {}
        transaction_id, code = info.get("transactionId"), info.get("code")
        if not transaction_id:
            return _error(400, "MISSING_FIELD", "clientReferenceInformation.transactionId is required")
        with self.lock:
            target = next((e for e in self.entries.values() if e.extra.get("transaction_id") == transaction_id
                           and e.kind in ("sale", "refund")), None)
            answer = {"id": self.new_id(), "submitTimeUtc": _now_text(), "status": "VOIDED",
                      "clientReferenceInformation": {"code": code}}
            if target is None:
                return _json(201, answer)  # nothing arrived under it: nothing to void
            refused = self._cancel(target, code or transaction_id)
            if refused:
                return refused
            answer["voidAmountDetails"] = {"originalTransactionAmount": _amount(target.total_minor),
                                           "currency": target.currency}
            answer["processorInformation"] = {"responseCode": target.response_code}
            self.timeout_voids.setdefault(code, []).append(answer["id"])
        return _json(201, answer)

    # -- transaction search --------------------------------------------------------------------

    def _summary(self, entry: Entry, *, as_void: bool = False, void_id: str | None = None) -> dict:
        if as_void:
            apps = [{"name": "ics_void", "rCode": "1", "rFlag": "SOK"}]
            return {"id": void_id, "submitTimeUtc": _now_text(), "merchantId": self.merchant_id,
                    "clientReferenceInformation": {"code": entry.reference},
                    "applicationInformation": {"rCode": "1", "applications": apps}}
        if entry.kind == "sale":
            rcode = "1" if entry.approved else "0"
            apps = [{"name": "ics_auth", "rCode": rcode, "rFlag": "SOK" if entry.approved else "DCARDREFUSED"}]
            if entry.approved:
                apps.append({"name": "ics_bill", "rCode": "1", "rFlag": "SOK"})
        elif entry.kind == "refund":
            apps = [{"name": "ics_credit", "rCode": "1", "rFlag": "SOK"}]
        else:
            apps = [{"name": "ics_void", "rCode": "1", "rFlag": "SOK"}]
        summary = {
            "id": entry.gateway_id, "submitTimeUtc": entry.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "merchantId": self.merchant_id, "clientReferenceInformation": {"code": entry.reference},
            "applicationInformation": {"rCode": apps[0]["rCode"], "applications": apps},
            "orderInformation": {"amountDetails": {"totalAmount": _amount(entry.total_minor), "currency": entry.currency}},
            "processorInformation": {"responseCode": entry.response_code},
        }
        if entry.auth_code:
            summary["processorInformation"]["approvalCode"] = entry.auth_code
        return summary

    def search(self, data: dict):
        match = re.fullmatch(r"clientReferenceInformation\.code:(\S+)", str(data.get("query") or ""))
        if not match:
            return _error(400, "INVALID_DATA", "query not supported by this fake", "query")
        code = match[1]
        with self.lock:
            rows = []
            entry = self.entries.get(code)
            if entry is not None:
                rows.append(self._summary(entry))
            for void_id in self.timeout_voids.get(code, []):
                rows.append(self._summary(entry or Entry(code, void_id, "void", "00", 0, "EUR", datetime.now(timezone.utc)),
                                          as_void=True, void_id=void_id))
        return _json(201, {"searchId": self.new_id(), "save": False, "name": data.get("name"),
                           "query": data.get("query"), "count": len(rows), "totalCount": len(rows),
                           "limit": data.get("limit"), "offset": data.get("offset"),
                           "_embedded": {"transactionSummaries": rows}})

    # -- reporting ----------------------------------------------------------------------------

    def batch_summaries(self, query: dict):
        try:
            start = datetime.fromisoformat(query["startTime"][0].replace("Z", "+00:00"))
            end = datetime.fromisoformat(query["endTime"][0].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return _error(400, "INVALID_DATA", "startTime and endTime are required")
        rows: dict[str, dict] = {}
        with self.lock:
            for entry in self.entries.values():
                if not (start <= entry.submitted_at.replace(microsecond=0) < end) or not entry.approved or entry.voided:
                    continue
                if entry.kind not in ("sale", "refund"):
                    continue
                row = rows.setdefault(entry.currency, {"currencyCode": entry.currency, "paymentSubTypeDescription": "Card",
                                                       "startTime": query["startTime"][0], "endTime": query["endTime"][0],
                                                       "salesCount": 0, "sales": 0, "creditCount": 0, "credit": 0})
                if entry.kind == "sale":
                    row["salesCount"] += 1
                    row["sales"] += entry.total_minor
                else:
                    row["creditCount"] += 1
                    row["credit"] += entry.total_minor
        summaries = []
        for row in rows.values():
            row["salesAmount"], row["creditAmount"] = _amount(row.pop("sales")), _amount(row.pop("credit"))
            summaries.append(row)
        return _json(200, {"startTime": query["startTime"][0], "endTime": query["endTime"][0],
                           "paymentBatchSummaries": summaries})


def _data_ksn(blob: str) -> str | None:
    """The KSN the fluid data was encrypted under: DFEE12 beside the EMV
    objects, or inside a swipe's Enhanced Encrypted MSR block (DFEE23)."""
    from mpos_cli.drivers.neo2 import msr, tlv

    plain = tlv.parse(bytes.fromhex(blob)).plain
    if "DFEE12" in plain:
        return plain["DFEE12"]
    try:
        ksn = msr.parse(bytes.fromhex(plain.get("DFEE23", ""))).ksn
    except msr.MsrBlockError:
        return None
    return ksn.hex().upper() if ksn else None

