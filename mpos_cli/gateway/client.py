"""The acquirer over HTTP (httpx): the API of ``man 7 mpos-gateway-api``.

How failures are told apart matters more than anything else here, because
the payment flow acts on the difference (SPEC §9):

- ``GatewayUnreachable``: the request certainly never arrived: connection
  refused, DNS failure, connect timeout, TLS handshake refused (the request
  is only written after the handshake);
- ``GatewayOutcomeUnknown``: it may have arrived: read or write timeout,
  connection reset or closed after sending, a 5xx, an answer that is not
  the JSON promised;
- ``GatewayRejected``: the acquirer answered 4xx: it refused the request
  itself (bad key, idempotency conflict, malformed request).

Every money call carries ``Idempotency-Key``, so a retry of the same call is
safe: transport failures and 5xx are retried under the same key, as the
call's ``RetryPolicy`` (mpos_cli.gateway.retry) decides. Read timeouts are
not retried: the acquirer is slow, not gone, and the flow resolves the
outcome by lookup.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import httpx

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, GatewayUnreachable, UsageError
from mpos_cli.gateway.base import (
    AuthorisationRequest,
    AuthorisationResult,
    BatchTotals,
    Gateway,
    RefundRequest,
    SeedSale,
)
from mpos_cli.gateway.retry import DEFAULT, RetryPolicy
from mpos_cli.gateway.transport import (
    DEFAULT_CONNECT_TIMEOUT,
    AnswerTimeout,
    json_or_none,
    send_once,
    server_message,
)
from mpos_cli.gateway.urls import checked_url, is_loopback

SANDBOX_SERVICE = "mpos-sandbox-acquirer"
BULK_TIMEOUT = 600.0  # seeding 100,000 sales or reading that ledger back
TOTAL_KEYS = ("sales_count", "sales_minor", "refunds_count", "refunds_minor", "net_minor")


def _ssl_context(ca_bundle: str | None, *, plain_http: bool = False):
    import ssl

    if plain_http:
        # Plain http to loopback never opens TLS (no redirects are followed),
        # so skip loading the CA roots (about 35 ms a run). Verification stays
        # on and no root is trusted: should TLS ever be attempted, it fails.
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not ca_bundle:
        return True  # httpx's default: verify against the system/certifi roots
    try:
        return ssl.create_default_context(cafile=ca_bundle)  # verification stays on
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"gateway.ca_bundle {ca_bundle!r} cannot be read as a CA bundle ({exc})",
            hint="mpos config set gateway.ca_bundle /path/to/ca.pem",
        ) from exc


def tls_verification(ca_bundle: str | None, *, plain_http: bool = False):
    """What httpx's ``verify`` gets for an acquirer: always verifying, with a
    custom CA bundle when one is configured (SPEC §8); shared by every adapter."""
    return _ssl_context(ca_bundle, plain_http=plain_http)


class HttpGateway(Gateway):
    """An acquirer reached over HTTP; the sandbox acquirer is one of them."""

    def __init__(
        self,
        base_url: str,
        *,
        key: str | None = None,
        timeout: float = 15.0,
        ca_bundle: str | None = None,
        sandbox: bool | None = None,
        retries: int | None = None,
        policy: RetryPolicy = DEFAULT,
        transport: httpx.BaseTransport | None = None,
        on_close: Callable[[], None] | None = None,
        identity_file: Path | None = None,
    ) -> None:
        self.base_url = checked_url(base_url)
        self.timeout = float(timeout)
        # The policy of calls that name none; ``retries`` is shorthand for its attempts.
        self.policy = policy if retries is None else policy.with_(attempts=1 + max(0, int(retries)))
        self._sandbox = sandbox
        # Whether this URL's acquirer is the sandbox, as it last said
        # (``/v1/health``): kept so that a payment taken while it is down
        # (stored offline) is recorded for what it is (SPEC §2, §7).
        self._identity_file = identity_file
        self._on_close = on_close
        self.__key = key  # never logged, printed or put in a message
        self.server_date: str | None = None  # the HTTP Date of the last answer (RFC 9110 §6.6.1)
        connect = min(DEFAULT_CONNECT_TIMEOUT, self.timeout)
        loopback = is_loopback(urlsplit(self.base_url).hostname or "")
        headers = {"Accept": "application/json", "User-Agent": "mpos"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.timeout, connect=connect, pool=connect),
            verify=_ssl_context(ca_bundle, plain_http=self.base_url.startswith("http://")),
            transport=transport,
            # A loopback sandbox must never go through an HTTP(S)_PROXY from the environment.
            trust_env=not loopback,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HttpGateway({self.base_url!r}, key={'set' if self.__key else 'none'})"

    # -- Gateway ---------------------------------------------------------------

    @property
    def sandbox(self) -> bool:  # type: ignore[override]
        """True when told so, or when the server says it is the mpos sandbox;
        while it cannot be asked, what it said last time (else False)."""
        if self._sandbox is None:
            try:
                health = self.health()
            except (GatewayUnreachable, GatewayOutcomeUnknown, GatewayRejected):
                return self._remembered_identity()  # asked again next time
            self._sandbox = bool(health.get("sandbox")) and health.get("service") == SANDBOX_SERVICE
            self._remember_identity(self._sandbox)
        return self._sandbox

    def _remembered_identity(self) -> bool:
        if self._identity_file is None:
            return False
        try:
            known = json.loads(self._identity_file.read_text())
        except (OSError, ValueError):
            return False
        return bool(known.get(self.base_url, {}).get("sandbox", False)) if isinstance(known, dict) else False

    def _remember_identity(self, is_sandbox: bool) -> None:
        if self._identity_file is None:
            return
        try:
            known = json.loads(self._identity_file.read_text())
        except (OSError, ValueError):
            known = {}
        if not isinstance(known, dict) or known.get(self.base_url, {}).get("sandbox") != is_sandbox:
            from mpos_cli.storage_util import atomic_write

            known = known if isinstance(known, dict) else {}
            known[self.base_url] = {"sandbox": is_sandbox}
            try:
                atomic_write(self._identity_file, json.dumps(known, indent=2).encode())
            except OSError:
                pass  # a cache: the next answer writes it again

    @sandbox.setter
    def sandbox(self, value: bool) -> None:
        self._sandbox = value

    def authorise(self, request: AuthorisationRequest, *, policy: RetryPolicy | None = None) -> AuthorisationResult:
        body = {name: value for name, value in asdict(request).items() if value is not None}
        return _result(self._call("POST", "/v1/authorisations", body=body, key=request.reference, policy=policy))

    def lookup(self, reference: str, *, policy: RetryPolicy | None = None) -> AuthorisationResult | None:
        data = self._call("GET", f"/v1/transactions/{_path_segment(reference)}", unknown_is_none=True, policy=policy)
        return None if data is None else _result(data)

    def reverse(self, reference: str, *, reason: str, policy: RetryPolicy | None = None) -> AuthorisationResult:
        body = {"reference": reference, "reason": reason}
        return _result(self._call("POST", "/v1/reversals", body=body, key=reference, policy=policy))

    def refund(self, request: RefundRequest, *, policy: RetryPolicy | None = None) -> AuthorisationResult:
        body = {name: value for name, value in asdict(request).items() if value is not None}
        return _result(self._call("POST", "/v1/refunds", body=body, key=request.reference, policy=policy))

    def void(self, reference: str, original_reference: str, *, policy: RetryPolicy | None = None) -> AuthorisationResult:
        body = {"reference": reference, "original_reference": original_reference}
        return _result(self._call("POST", "/v1/voids", body=body, key=reference, policy=policy))

    def close_batch(self, batch_reference: str, business_date: str) -> BatchTotals:
        data = self._call(
            "POST", "/v1/batches", body={"batch_reference": batch_reference, "business_date": business_date},
            key=batch_reference,
        )
        try:
            totals = {
                str(currency): {name: _int(entry[name]) for name in TOTAL_KEYS}
                for currency, entry in data["totals"].items()
            }
            references = [str(reference) for reference in data.get("references", [])]
            return BatchTotals(batch_id=str(data["batch_reference"]), totals=totals, references=references)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise _malformed(exc) from exc

    def ledger(self) -> list[dict[str, Any]]:
        data = self._call("GET", "/v1/transactions", timeout=BULK_TIMEOUT)
        rows = data.get("transactions")
        if not isinstance(rows, list):
            raise _malformed(ValueError("no transactions list"))
        return rows

    def seed(self, sales: Sequence[SeedSale]) -> list[AuthorisationResult]:
        body = {"sales": [{k: v for k, v in asdict(sale).items() if v is not None} for sale in sales]}
        data = self._call("POST", "/v1/seed", body=body, timeout=BULK_TIMEOUT)
        try:
            return [
                AuthorisationResult(
                    reference=row["reference"], acquirer_id=row["acquirer_id"], status="approved",
                    response_code=row["response_code"], auth_code=row["auth_code"], kind="sale",
                )
                for row in data["results"]
            ]
        except (KeyError, TypeError) as exc:
            raise _malformed(exc) from exc

    def health(self) -> dict[str, Any]:
        once = RetryPolicy(attempts=1, timeout=min(self.timeout, DEFAULT_CONNECT_TIMEOUT))
        return self._call("GET", "/v1/health", policy=once)

    def close(self) -> None:
        self._client.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    # -- transport -------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        key: str | None = None,
        timeout: float | None = None,
        unknown_is_none: bool = False,
        policy: RetryPolicy | None = None,
    ) -> dict | None:
        policy = policy or self.policy
        seconds = timeout if timeout is not None else min(self.timeout, policy.timeout or self.timeout)
        headers = {"Idempotency-Key": key} if key is not None else {}
        what = f"{method} {path}"
        failure: GatewayOutcomeUnknown | None = None
        attempt = 1
        while True:
            try:
                response = send_once(self._client, method, path, who="the acquirer", where=self.base_url,
                                     what=what, seconds=seconds, json=body, headers=headers)
            except GatewayUnreachable as exc:
                if failure is not None:
                    # An earlier attempt may have arrived: unreachable now is not "never sent".
                    raise failure from exc
                raise
            except AnswerTimeout:
                raise  # never retried: the acquirer is slow, not gone; the flow looks it up
            except GatewayOutcomeUnknown as exc:
                failure = exc  # reset after sending, or a 5xx: worth another attempt under the same key
            else:
                self.server_date = response.headers.get("Date")  # mpos doctor compares clocks with it
                return _answer(response, what, unknown_is_none=unknown_is_none)
            if not policy.should_retry(attempt, failure):
                raise failure
            policy.sleep(policy.delay(attempt))
            attempt += 1


def _answer(response: httpx.Response, what: str, *, unknown_is_none: bool) -> dict | None:
    """The JSON object of a non-5xx answer; a 4xx is the acquirer refusing."""
    if response.status_code >= 400:
        error = json_or_none(response)
        if unknown_is_none and response.status_code == 404 and isinstance(error, dict) \
                and error.get("error") == "unknown_reference":
            return None
        raise GatewayRejected(
            f"the acquirer refused {what} (HTTP {response.status_code}: {server_message(response)})",
            hint=_rejected_hint(response.status_code),
        )
    data = json_or_none(response)
    if response.status_code != 200 or not isinstance(data, dict):
        raise GatewayOutcomeUnknown(
            f"the acquirer's answer to {what} is not the JSON object expected (HTTP {response.status_code})",
            hint="the outcome is unknown; mpos recover resolves it",
        )
    return data


def _path_segment(reference: str) -> str:
    from urllib.parse import quote

    return quote(reference, safe="")


def _rejected_hint(status: int) -> str | None:
    if status in (401, 403):
        return "check MPOS_GATEWAY_KEY (or the key in the OS keyring)"
    if status == 409:
        return "this reference was already used for a different request"
    return None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    return value


def _malformed(exc: Exception) -> GatewayOutcomeUnknown:
    return GatewayOutcomeUnknown(
        f"the acquirer's answer is malformed ({type(exc).__name__}: {exc})",
        hint="the outcome is unknown; mpos recover resolves it",
    )


def _optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _result(data: dict | None) -> AuthorisationResult:
    try:
        code = data["response_code"]
        if not (isinstance(code, str) and len(code) == 2):
            raise ValueError(f"response code {code!r}")
        emv = data.get("emv") or {}
        if not isinstance(emv, dict):
            raise ValueError("emv is not an object")
        auth_code = data.get("auth_code")
        return AuthorisationResult(
            reference=str(data["reference"]),
            acquirer_id=str(data.get("acquirer_id") or ""),
            status=str(data["status"]),
            response_code=code,
            auth_code=str(auth_code) if auth_code else None,
            emv={str(k): str(v) for k, v in emv.items()},
            message=data.get("message"),
            kind=data.get("type"),
            amount_minor=_optional_int(data, "amount_minor"),
            tip_minor=_optional_int(data, "tip_minor"),
            currency=data.get("currency"),
            refunded_minor=_optional_int(data, "refunded_minor"),
            batch_reference=data.get("batch_reference"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed(exc) from exc
