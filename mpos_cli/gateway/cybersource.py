"""Cybersource REST Payments API (Visa Acceptance), card present, behind ``Gateway``.

``gateway.url = cybersource+https://apitest.cybersource.com`` (its test
system) or ``cybersource+https://api.cybersource.com``. Plain httpx, no
vendor SDK. Every field below is named as the Cybersource REST API field
reference names it (developer.cybersource.com, "REST API Field Reference",
and the card-present "Card Present Connect | Retail" integration guide);
``man 7 mpos-gateway-cybersource`` has the whole mapping.

Authentication: HTTP Signature (developer.cybersource.com, "Getting Started
with REST" > "HTTP Signature Authentication"): headers ``v-c-merchant-id``,
``Date`` (RFC 1123), ``Host``, ``Digest: SHA-256=<base64 SHA-256 of the
body>`` on POST, and ``Signature: keyid="…", algorithm="HmacSHA256",
headers="host date request-target digest v-c-merchant-id", signature="…"``,
the signature being base64(HMAC-SHA256(base64-decoded shared secret, the
signing string)), the signing string one ``name: value`` line per header in
that order (``request-target: post /pts/v2/payments``). Cybersource accepts
``request-target`` without parentheses since 2024 and the old
``(request-target)`` no longer (Cybersource developer blog, "REST API Http
Signature Authentication Critical" update).

Operations:

- sale: ``POST /pts/v2/payments`` with ``processingInformation.capture =
  true`` and ``commerceIndicator = retail``; the reader's DUKPT-encrypted
  objects in ``paymentInformation.fluidData`` (``value`` base64, ``encoding``
  ``Base64``, ``descriptor`` ``RklEPUVNVi5QQVlNRU5ULkFQSQ==`` = "FID=EMV.
  PAYMENT.API", Cybersource P2PE decryption, ``keySerialNumber`` the KSN);
  the EMV tags in ``pointOfSaleInformation.emv.tags`` (never 56, 57, 5A,
  5F20, 5F24, 99, 9F0B, 9F1F, 9F20: the field reference forbids them); an
  online PIN in ``pointOfSaleInformation.encryptedPin`` with
  ``encryptedKeySerialNumber`` and ``pinBlockEncodingFormat`` 0 (ISO 9564
  format 0); ``clientReferenceInformation.code`` and ``.transactionId`` are
  our reference. The answer's ``pointOfSaleInformation.emv.tags`` (8A, 91,
  71, 72) goes back to the card.
- a sale stored offline and forwarded later: the same request, marked as
  a deferred authorisation, ``processingInformation.authorizationOptions.
  deferredAuthIndicator = true`` ("Card Present Connect | Retail" guide,
  "Deferred Authorization": required, Visa and Mastercard, within 24 hours of
  the sale), and ``pointOfSaleInformation.storeAndForwardIndicator = Y``
  (field reference: "Transaction was stored and then forwarded", passed to
  Cybersource's reporting, not to the processor).
- refund: ``POST /pts/v2/payments/{id}/refunds`` (partial amounts allowed);
- void: ``POST /pts/v2/payments/{id}/voids``;
- reversal of an unknown or refused outcome: the timeout void ``POST
  /pts/v2/voids`` keyed on ``clientReferenceInformation.transactionId`` (our
  reference), documented for "a capture, sale, refund, or credit" whose
  answer never came;
- lookup by our reference: Transaction Search ``POST /tss/v2/searches`` with
  ``query = clientReferenceInformation.code:<reference>``;
- settle: the Payment Batch Summaries report ``GET
  /reporting/v3/payment-batch-summaries`` (sales and credits, count and
  amount, per currency) over the time since the previous settle.

Cybersource keeps no idempotency key: a payment is never resent after its
answer was lost (the flow looks it up and reverses what it cannot find), and
a refund or void is resent only after a search under its own reference
found nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, UsageError
from mpos_cli.gateway.base import (
    AuthorisationRequest,
    AuthorisationResult,
    BatchTotals,
    RefundRequest,
)
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
    pin_block_parts,
    utc_text,
)

NAME = "cybersource"
# fluidData.descriptor for Cybersource's own P2PE decryption with base64
# encoding (REST API field reference, paymentInformation.fluidData.descriptor).
FLUID_DESCRIPTOR = "RklEPUVNVi5QQVlNRU5ULkFQSQ=="
POST_HEADERS = ("host", "date", "request-target", "digest", "v-c-merchant-id")
GET_HEADERS = ("host", "date", "request-target", "v-c-merchant-id")
ENTRY_MODES = {"chip": "contact", "contactless": "contactless", "swipe": "swiped"}
SEARCH_LIMIT = 100
LOOKBACK = timedelta(days=31)

# Cybersource's decline reasons (errorInformation.reason of a DECLINED
# payment, REST API reference) onto ISO 8583 response codes, in plain words.
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "PROCESSOR_DECLINED": ("05", "do not honour"),
    "GENERAL_DECLINE": ("05", "do not honour"),
    "PAYMENT_REFUSED": ("05", "do not honour"),
    "INSUFFICIENT_FUND": ("51", "insufficient funds"),
    "EXCEEDS_CREDIT_LIMIT": ("61", "exceeds the withdrawal limit"),
    "EXPIRED_CARD": ("54", "expired card"),
    "INVALID_PIN": ("55", "incorrect PIN"),
    "ALLOWABLE_PIN_RETRIES_EXCEEDED": ("75", "PIN tries exceeded"),
    "STOLEN_LOST_CARD": ("43", "lost or stolen card: keep it"),
    "UNAUTHORIZED_CARD": ("57", "transaction not permitted to the card"),
    "INVALID_ACCOUNT": ("14", "invalid card number"),
    "ISSUER_UNAVAILABLE": ("91", "issuer unavailable"),
    "CONTACT_PROCESSOR": ("01", "refer to the card issuer"),
    "BLOCKED_BY_CARDHOLDER": ("05", "do not honour"),
    "PROCESSOR_ERROR": ("96", "system malfunction at the processor"),
}
# Request errors (HTTP 400 ``reason``): the request itself is refused.
REQUEST_ERRORS = {
    "MISSING_FIELD": "a required field is missing",
    "INVALID_DATA": "a field holds a value Cybersource does not accept",
    "INVALID_MERCHANT_CONFIGURATION": "the merchant account is not set up for this (ask Cybersource)",
    "INVALID_CARD": "the card data could not be used",
}


# -- HTTP Signature ------------------------------------------------------------------


def body_digest(body: bytes) -> str:
    """The ``Digest`` header: ``SHA-256=`` and the base64 SHA-256 of the body."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def signing_string(headers: tuple[str, ...], values: Mapping[str, str], method: str, path: str) -> str:
    """One ``name: value`` line per signed header, in the order signed;
    ``request-target`` (or the older ``(request-target)``) is ``method path``."""
    lines = []
    for name in headers:
        if name in ("request-target", "(request-target)"):
            lines.append(f"{name}: {method.lower()} {path}")
        else:
            lines.append(f"{name}: {values[name]}")
    return "\n".join(lines)


def sign(shared_secret_b64: str, text: str) -> str:
    """base64(HMAC-SHA256(the base64-decoded shared secret, text))."""
    try:
        key = base64.b64decode(shared_secret_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UsageError("the Cybersource shared secret is not base64",
                         hint="set MPOS_GATEWAY_KEY to the key exactly as the Business Center shows it") from exc
    return base64.b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).decode()


def signed_headers(settings: AdapterSettings, method: str, path: str, body: bytes | None,
                   moment: datetime) -> dict[str, str]:
    values = {
        "host": settings.host,
        "date": format_datetime(moment.astimezone(timezone.utc), usegmt=True),
        "v-c-merchant-id": settings.merchant_id,
    }
    names = GET_HEADERS
    if body is not None:
        values["digest"] = body_digest(body)
        names = POST_HEADERS
    signature = sign(settings.secret, signing_string(names, values, method, path))
    headers = {
        "v-c-merchant-id": values["v-c-merchant-id"],
        "Date": values["date"],
        "Host": values["host"],
        "Signature": (f'keyid="{settings.key_id}", algorithm="HmacSHA256", headers="{" ".join(names)}", '
                      f'signature="{signature}"'),
        "Accept": "application/hal+json;charset=utf-8",
    }
    if body is not None:
        headers["Digest"] = values["digest"]
        headers["Content-Type"] = "application/json;charset=utf-8"
    return headers


# -- the adapter ----------------------------------------------------------------------------


class CybersourceGateway(VendorGateway):
    name = NAME
    display_name = "Cybersource"
    needs_key_id = True
    reports = "Business Center reports"

    def __init__(self, settings: AdapterSettings, *, sleep: Callable[[float], None] | None = None, **options) -> None:
        import time

        super().__init__(settings, **options)
        self.sleep = sleep or time.sleep
        self._payment_ids: dict[str, str] = {}

    # -- transport -------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None, *, what: str,
              timeout: float | None = None) -> tuple[int, Any]:
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = signed_headers(self.settings, method, path, content, self.clock())
        response = self.http.send(method, path, content=content, headers=headers, timeout=timeout, what=what)
        if response.status_code == 401:
            raise AcquirerRefused(
                f"Cybersource refused the credentials (HTTP 401) on {what}",
                hint="check gateway.merchant_id, gateway.key_id and the shared secret (MPOS_GATEWAY_KEY)",
            )
        if response.status_code == 404 and method == "GET":
            return 404, None
        return response.status_code, json_of(response, what, "Cybersource")

    # -- authorise --------------------------------------------------------------------

    def authorisation_body(self, request: AuthorisationRequest) -> dict[str, Any]:
        """The ``POST /pts/v2/payments`` body for one sale (public for the tests)."""
        total = request.amount_minor + request.tip_minor
        if not request.encrypted_card_data:
            raise UsageError("Cybersource takes card data only as the reader's encrypted objects",
                             hint="use a reader that encrypts under DUKPT")
        blob = bytes.fromhex(request.encrypted_card_data)
        amounts: dict[str, Any] = {"totalAmount": decimal_amount(total, request.currency), "currency": request.currency}
        if request.tip_minor:
            amounts["gratuityAmount"] = decimal_amount(request.tip_minor, request.currency)
        point_of_sale: dict[str, Any] = {
            "cardPresent": True,
            "entryMode": ENTRY_MODES.get(request.entry_mode, "contact"),
            "terminalCapability": 5,  # magnetic stripe, contact and contactless chip
        }
        if request.terminal_id:
            point_of_sale["terminalId"] = request.terminal_id[:8]
        if request.emv and request.entry_mode != "swipe":
            point_of_sale["emv"] = {"tags": emv_tlv(request.emv)}
        pin = pin_block_parts(request.encrypted_pin_block)
        if pin is not None:
            block, pin_ksn = pin
            if len(pin_ksn) != 20:
                raise AcquirerRefused(
                    "Cybersource takes PIN blocks in ISO 9564 formats 0-3 under TDES DUKPT only (this is AES)",
                    hint="configure the reader for TDES DUKPT PIN encryption",
                )
            point_of_sale.update(encryptedPin=block, encryptedKeySerialNumber=pin_ksn, pinBlockEncodingFormat=0,
                                 terminalPinCapability=12)
        processing: dict[str, Any] = {"capture": True, "commerceIndicator": "retail"}
        if request.deferred:
            # Stored offline, forwarded now: a deferred authorisation (card-present
            # guide, "Deferred Authorization": deferredAuthIndicator true), and the
            # stored-and-forwarded mark for the merchant's reports (field reference,
            # pointOfSaleInformation.storeAndForwardIndicator, Y).
            processing["authorizationOptions"] = {"deferredAuthIndicator": True}
            point_of_sale["storeAndForwardIndicator"] = "Y"
        body = {
            "clientReferenceInformation": {"code": request.reference, "transactionId": request.reference},
            "processingInformation": processing,
            "paymentInformation": {"fluidData": {
                "value": base64.b64encode(blob).decode(),
                "descriptor": FLUID_DESCRIPTOR,
                "encoding": "Base64",
                "keySerialNumber": card_data_ksn(request.encrypted_card_data),
            }},
            "orderInformation": {"amountDetails": amounts},
            "pointOfSaleInformation": point_of_sale,
        }
        return body

    def authorise(self, request: AuthorisationRequest, *, policy=None) -> AuthorisationResult:
        body = self.authorisation_body(request)
        status, data = self._call("POST", "/pts/v2/payments", body, what="the payment",
                                  timeout=self.timeout_of(policy))
        if status == 400 and isinstance(data, dict) and data.get("reason") == "DUPLICATE_REQUEST":
            found = self.lookup(request.reference, policy=policy)
            if found is not None:
                return found
        self._refuse_if_error(status, data, "the payment")
        return self._payment_result(request.reference, data, "the payment", kind="sale",
                                    amount=request.amount_minor, tip=request.tip_minor, currency=request.currency)

    def _refuse_if_error(self, status: int, data: Any, what: str) -> None:
        if status in (200, 201):
            return
        if isinstance(data, dict):
            reason = str(data.get("reason") or data.get("status") or "")
            message = str(data.get("message") or "")[:200]
            fields = ", ".join(str(d.get("field")) for d in data.get("details") or [] if isinstance(d, dict))
            plain = REQUEST_ERRORS.get(reason, "the request was refused")
            detail = f" ({fields})" if fields else ""
            raise AcquirerRefused(
                f"Cybersource refused {what}: {reason or 'HTTP ' + str(status)}: {plain}{detail}"
                + (f": {message}" if message else ""),
                hint="nothing was charged; see man 7 mpos-gateway-cybersource",
            )
        raise AcquirerRefused(f"Cybersource refused {what} (HTTP {status})", hint="nothing was charged")

    def _payment_result(self, reference: str, data: Any, what: str, *, kind: str, amount=None, tip=None,
                        currency=None) -> AuthorisationResult:
        try:
            state = str(data["status"])
            processor = data.get("processorInformation") or {}
            emv = emv_tags_of(((data.get("pointOfSaleInformation") or {}).get("emv") or {}).get("tags") or "")
            acquirer_id = str(data.get("id") or "")
            if acquirer_id:
                self._payment_ids[reference] = acquirer_id
            if state in ("AUTHORIZED", "PENDING", "TRANSMITTED", "VOIDED", "REVERSED"):
                # Approved by Cybersource's status (its processorInformation.responseCode
                # is the processor's own, informational: "do not use it to evaluate the result").
                return AuthorisationResult(
                    reference=reference, acquirer_id=acquirer_id,
                    status="reversed" if state in ("VOIDED", "REVERSED") and kind == "reversal" else "approved",
                    response_code="00", auth_code=processor.get("approvalCode") or None, emv=emv,
                    message="approved", kind=kind, amount_minor=amount, tip_minor=tip, currency=currency,
                )
            if state in ("DECLINED", "AUTHORIZED_RISK_DECLINED", "AUTHORIZED_PENDING_REVIEW", "INVALID_REQUEST",
                         "PARTIAL_AUTHORIZED"):
                reason = str((data.get("errorInformation") or {}).get("reason") or "")
                code, words = DECLINE_REASONS.get(reason, ("05", "do not honour"))
                code = _iso_code(processor.get("responseCode")) or code
                return AuthorisationResult(
                    reference=reference, acquirer_id=acquirer_id, status="declined", response_code=code,
                    auth_code=None, emv=emv, message=f"{words} ({reason or state})", kind=kind,
                    amount_minor=amount, tip_minor=tip, currency=currency,
                )
            raise ValueError(f"status {state!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("Cybersource", what, exc) from exc

    # -- lookup (Transaction Search) ----------------------------------------------------

    def _search(self, query: str, *, policy=None, offset: int = 0, what: str) -> dict:
        body = {
            "save": False, "name": "mpos", "timezone": "UTC", "query": query,
            "offset": offset, "limit": SEARCH_LIMIT, "sort": "id:asc,submitTimeUtc:asc",
        }
        status, data = self._call("POST", "/tss/v2/searches", body, what=what, timeout=self.timeout_of(policy))
        self._refuse_if_error(status, data, what)
        if not isinstance(data, dict):
            raise malformed("Cybersource", what, ValueError("not an object"))
        return data

    def _summaries(self, reference: str, *, policy=None) -> list[dict]:
        data = self._search(f"clientReferenceInformation.code:{reference}", policy=policy,
                            what=f"the search for {reference}")
        rows = ((data.get("_embedded") or {}).get("transactionSummaries")) or []
        return [row for row in rows if isinstance(row, dict)
                and (row.get("clientReferenceInformation") or {}).get("code") == reference]

    def lookup(self, reference: str, *, policy=None) -> AuthorisationResult | None:
        rows = self._summaries(reference, policy=policy)
        if not rows:
            return None
        try:
            return _from_summaries(reference, rows, self._payment_ids)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed("Cybersource", f"the search for {reference}", exc) from exc

    def _payment_id(self, reference: str, *, policy=None) -> str:
        if reference in self._payment_ids:
            return self._payment_ids[reference]
        found = self.lookup(reference, policy=policy)
        if found is None or not found.acquirer_id:
            raise GatewayRejected(f"Cybersource holds no payment under {reference}",
                                  hint="only a payment taken through this acquirer can be refunded or voided")
        return found.acquirer_id

    # -- reversal (timeout void) ---------------------------------------------------------

    def reverse(self, reference: str, *, reason: str, policy=None) -> AuthorisationResult:
        body = {"clientReferenceInformation": {"code": reference, "transactionId": reference,
                                               "comments": reason[:100]}}
        status, data = self._call("POST", "/pts/v2/voids", body, what="the timeout void",
                                  timeout=self.timeout_of(policy))
        if status == 400 and isinstance(data, dict) and data.get("reason") == "NOT_VOIDABLE":
            return AuthorisationResult(reference=reference, acquirer_id="", status="approved", response_code="12",
                                       auth_code=None, message="settled already: it cannot be voided; refund it",
                                       kind="sale")
        self._refuse_if_error(status, data, "the timeout void")
        return AuthorisationResult(reference=reference, acquirer_id=str(data.get("id") or ""), status="reversed",
                                   response_code="00", auth_code=None, message="voided (timeout void)", kind="sale")

    # -- refund and void -------------------------------------------------------------------

    def refund(self, request: RefundRequest, *, policy=None) -> AuthorisationResult:
        already = self.lookup(request.reference, policy=policy)
        if already is not None:  # an earlier attempt arrived: its answer, not a second refund
            return already
        payment_id = self._payment_id(request.original_reference, policy=policy)
        body = {
            "clientReferenceInformation": {"code": request.reference, "transactionId": request.reference},
            "orderInformation": {"amountDetails": {
                "totalAmount": decimal_amount(request.amount_minor, request.currency), "currency": request.currency,
            }},
        }
        status, data = self._call("POST", f"/pts/v2/payments/{payment_id}/refunds", body, what="the refund",
                                  timeout=self.timeout_of(policy))
        return self._follow_up_result(request.reference, status, data, "the refund", kind="refund",
                                      amount=request.amount_minor, currency=request.currency)

    def void(self, reference: str, original_reference: str, *, policy=None) -> AuthorisationResult:
        already = self.lookup(reference, policy=policy)
        if already is not None:
            return already
        payment_id = self._payment_id(original_reference, policy=policy)
        body = {"clientReferenceInformation": {"code": reference, "transactionId": reference}}
        status, data = self._call("POST", f"/pts/v2/payments/{payment_id}/voids", body, what="the void",
                                  timeout=self.timeout_of(policy))
        return self._follow_up_result(reference, status, data, "the void", kind="void")

    def _follow_up_result(self, reference: str, status: int, data: Any, what: str, *, kind: str,
                          amount=None, currency=None) -> AuthorisationResult:
        if status == 400 and isinstance(data, dict) and data.get("reason") not in REQUEST_ERRORS:
            return AuthorisationResult(
                reference=reference, acquirer_id="", status="declined", response_code="12", auth_code=None,
                message=f"refused: {data.get('reason')}: {str(data.get('message') or '')[:150]}", kind=kind,
            )
        self._refuse_if_error(status, data, what)
        return self._payment_result(reference, data, what, kind=kind, amount=amount, currency=currency)

    # -- settlement (Payment Batch Summaries) ---------------------------------------------

    def close_batch(self, batch_reference: str, business_date: str) -> BatchTotals:
        book = self.book.load()
        saved = self.saved_batch(book, batch_reference, with_references=False)
        if saved is not None:
            return saved
        end = self.batch_end(business_date)
        if end.microsecond:  # the report takes whole seconds: wait until this second is over
            end = end.replace(microsecond=0) + timedelta(seconds=1)
            self.sleep(max(0.0, (end - self.clock().astimezone(timezone.utc)).total_seconds()))
        start = datetime.fromisoformat(book["cursor"]) if book.get("cursor") else end - LOOKBACK
        query = urlencode({
            "startTime": utc_text(start), "endTime": utc_text(end),
            "organizationId": self.settings.merchant_id, "rollUp": "none",
        })
        what = "the payment batch summary"
        status, data = self._call("GET", f"/reporting/v3/payment-batch-summaries?{query}", what=what)
        totals: dict[str, dict[str, int]] = {}
        if status != 404:
            self._refuse_if_error(status, data, what)
            try:
                for row in data.get("paymentBatchSummaries") or []:
                    currency = str(row["currencyCode"])
                    entry = totals.setdefault(currency, {"sales_count": 0, "sales_minor": 0, "refunds_count": 0,
                                                         "refunds_minor": 0, "net_minor": 0})
                    entry["sales_count"] += int(row.get("salesCount") or 0)
                    entry["sales_minor"] += minor_units(row.get("salesAmount") or "0", currency)
                    entry["refunds_count"] += int(row.get("creditCount") or 0)
                    entry["refunds_minor"] += minor_units(row.get("creditAmount") or "0", currency)
                    entry["net_minor"] = entry["sales_minor"] - entry["refunds_minor"]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise malformed("Cybersource", what, exc) from exc
        batch_id = f"{batch_reference}@{utc_text(end)}"
        book["batches"][batch_reference] = {"batch_id": batch_id, "totals": totals, "start": utc_text(start),
                                            "end": utc_text(end)}
        book["cursor"] = end.isoformat()
        self.book.save(book)
        # The summary holds totals, not transactions: reconciled by totals only.
        return BatchTotals(batch_id=batch_id, totals=totals, references=None)


def _iso_code(value: Any) -> str | None:
    text = str(value or "")
    return text if len(text) == 2 and text.isalnum() else None


def _applications(row: dict) -> dict[str, str]:
    """Application name -> rCode ("1" success, "0" declined, "-1" error)."""
    apps = ((row.get("applicationInformation") or {}).get("applications")) or []
    return {str(app.get("name")): str(app.get("rCode")) for app in apps if isinstance(app, dict)}


def _from_summaries(reference: str, rows: list[dict], ids: dict[str, str]) -> AuthorisationResult:
    """What Cybersource holds under ``reference``: the payment (ics_auth,
    ics_bill), the refund (ics_credit) or the void (ics_void), and whether a
    (timeout) void under the same reference cancelled it."""
    voided = any(_applications(row).get("ics_void") == "1" for row in rows)
    main = next((row for row in rows if "ics_void" not in _applications(row)), None)
    if main is None:  # only a void under this reference: our void, or a timeout void of nothing
        row = rows[0]
        return AuthorisationResult(reference=reference, acquirer_id=str(row.get("id") or ""),
                                   status="approved" if voided else "declined",
                                   response_code="00" if voided else "12", auth_code=None, kind="void")
    apps = _applications(main)
    kind = "refund" if "ics_credit" in apps else "sale"
    success = apps.get("ics_credit" if kind == "refund" else "ics_auth") == "1"
    amounts = (main.get("orderInformation") or {}).get("amountDetails") or {}
    currency = amounts.get("currency")
    total = minor_units(amounts["totalAmount"], currency) if currency and amounts.get("totalAmount") else None
    processor = main.get("processorInformation") or {}
    acquirer_id = str(main.get("id") or "")
    ids[reference] = acquirer_id
    if not success:
        code = _iso_code(processor.get("responseCode")) or "05"
        return AuthorisationResult(reference=reference, acquirer_id=acquirer_id, status="declined",
                                   response_code=code, auth_code=None, kind=kind, amount_minor=total,
                                   currency=currency, message="declined")
    return AuthorisationResult(
        reference=reference, acquirer_id=acquirer_id, status="reversed" if voided else "approved",
        response_code="00", auth_code=processor.get("approvalCode") or None, kind=kind, amount_minor=total,
        currency=currency, message="voided" if voided else "approved",
    )
