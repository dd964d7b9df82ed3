"""What the two vendor adapters (Cybersource, Authorize.Net) share.

- ``AdapterSettings``: the URL, credentials and limits an adapter runs with,
  read from the environment as SPEC §7a says (``gateway.merchant_id`` /
  ``MPOS_GATEWAY_MERCHANT_ID``, ``gateway.key_id`` / ``MPOS_GATEWAY_KEY_ID``,
  the secret from ``MPOS_GATEWAY_KEY`` or the OS keyring, never the config);
- ``VendorTransport``: one httpx client and the one rule that matters, the
  difference between a request that certainly never arrived
  (``GatewayUnreachable``) and one that may have (``GatewayOutcomeUnknown``);
  it never retries: each adapter decides what a retry may do at its vendor;
- the reader's sealed card data taken apart the way both vendors want it
  (KSN, PIN block), and the EMV tags a vendor may receive;
- amounts as the vendors write them (decimal text) and back to minor units;
- ``ReconciliationBook``: both vendors settle on their own schedule, so a
  ``close_batch`` is a reconciliation of everything not yet reported, kept
  under the home so that a batch reference is answered the same way twice.

Nothing here ever puts the secret in a message, and ``AcquirerRefused``
carries exit 6 (the payment was not taken) rather than a stack trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from mpos_cli.errors import (
    ExitStatus,
    GatewayOutcomeUnknown,
    GatewayRejected,
    GatewayUnreachable,
    UsageError,
)
from mpos_cli.gateway.base import BatchTotals, Gateway
from mpos_cli.gateway.transport import DEFAULT_CONNECT_TIMEOUT, send_once
from mpos_cli.gateway.urls import checked_url, is_loopback


# EMV tags no vendor may receive in clear: Cybersource's list for
# pointOfSaleInformation.emv.tags ("the following tags contain sensitive
# information and must not be included": 56, 57, 5A, 5F20, 5F24, 99, 9F0B,
# 9F1F, 9F20; REST API field reference), which also covers SPEC §8.
SENSITIVE_EMV_TAGS = frozenset({"56", "57", "5A", "5F20", "5F24", "99", "9F0B", "9F1F", "9F20"})


class AcquirerRefused(GatewayRejected):
    """The acquirer refused the request itself (credentials, a field it will
    not take): nothing was charged; exit 6 like an acquirer out of reach."""

    exit_status = ExitStatus.GATEWAY_UNREACHABLE


# -- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterSettings:
    name: str  # cybersource | authorizenet
    base_url: str  # https://HOST (or http://loopback)
    host: str  # as sent in Host (with the port when not the default)
    merchant_id: str
    key_id: str | None
    secret: str  # never printed
    timeout: float
    ca_bundle: str | None
    currency: str
    data_dir: Path

    def __repr__(self) -> str:  # never the secret, even in a debugger or a traceback
        return f"AdapterSettings({self.name!r}, {self.base_url!r}, merchant_id={self.merchant_id!r})"

    @classmethod
    def from_environment(cls, env, name: str, *, needs_key_id: bool) -> "AdapterSettings":
        config = env.config
        url = str(config["gateway.url"])
        prefix = f"{name}+"
        if not url.lower().startswith(prefix):
            raise UsageError(f"gateway URL {url!r} is not a {name} URL", hint=f"use {name}+https://HOST")
        base_url = checked_url(url[len(prefix):])
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        if parts.port and parts.port not in (80, 443):
            host = f"{host}:{parts.port}"
        merchant_id = str(config["gateway.merchant_id"] or "").strip()
        key_id = str(config["gateway.key_id"] or "").strip() or None
        secret = env.gateway_key
        missing = [what for what, present in (
            ("gateway.merchant_id (or MPOS_GATEWAY_MERCHANT_ID)", merchant_id),
            ("gateway.key_id (or MPOS_GATEWAY_KEY_ID)", key_id or not needs_key_id),
            ("the secret (MPOS_GATEWAY_KEY or the OS keyring)", secret),
        ) if not present]
        if missing:
            raise UsageError(
                f"the {name} acquirer needs {', '.join(missing)}",
                hint=f"see man 7 mpos-gateway-{name}",
            )
        return cls(
            name=name, base_url=base_url, host=host, merchant_id=merchant_id, key_id=key_id, secret=secret,
            timeout=float(config["gateway.timeout"]), ca_bundle=config["gateway.ca_bundle"] or None,
            currency=str(config["currency"]), data_dir=Path(env.data_path("acquirer")),
        )


# -- what both vendor adapters share -------------------------------------------------------


class VendorGateway(Gateway):
    """An acquirer of its own API (not the mpos gateway API): its settings, one
    transport, a reconciliation book under the home, the terminal's time zone
    for business days, and what such an acquirer never offers (a ledger
    mpos may read)."""

    sandbox = False
    name = ""  # cybersource | authorizenet: the NAME of gateway.url's NAME+https://
    display_name = ""
    needs_key_id = False
    reports = ""  # where the merchant reads the acquirer's own ledger

    def __init__(self, settings: AdapterSettings, *, transport=None, terminal_tz=None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.http = VendorTransport(settings, transport=transport)
        self.book = ReconciliationBook(settings.data_dir, self.name)
        self.terminal_tz = terminal_tz or timezone.utc
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    @classmethod
    def from_environment(cls, env):
        settings = AdapterSettings.from_environment(env, cls.name, needs_key_id=cls.needs_key_id)
        return cls(settings, terminal_tz=env.timezone)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings.base_url!r})"

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def timeout_of(policy) -> float | None:
        """The per-call timeout ``policy`` (a ``retry.RetryPolicy``) sets; None: the transport's own."""
        return getattr(policy, "timeout", None) if policy is not None else None

    def ledger(self) -> list[dict[str, Any]]:
        raise GatewayRejected(f"{self.display_name} keeps its own ledger", hint=f"see its {self.reports}")

    def health(self) -> dict[str, Any]:
        return {"sandbox": False, "service": self.name, "url": self.settings.base_url}

    def saved_batch(self, book: dict[str, Any], batch_reference: str, *, with_references: bool) -> BatchTotals | None:
        """A batch closed before under this reference (``settle`` run again)."""
        saved = book["batches"].get(batch_reference)
        if saved is None:
            return None
        return BatchTotals(batch_id=saved["batch_id"], totals=saved["totals"],
                           references=saved["references"] if with_references else None)

    def batch_end(self, business_date: str) -> datetime:
        """Now, or the end of ``business_date`` in the terminal's zone if earlier (UTC)."""
        now = self.clock().astimezone(timezone.utc)
        day_end = datetime.combine(datetime.fromisoformat(business_date).date() + timedelta(days=1),
                                   datetime.min.time(), self.terminal_tz).astimezone(timezone.utc)
        return min(now, day_end)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- transport ---------------------------------------------------------------------------


class VendorTransport:
    """httpx, one connection pool, TLS verification always on, no proxies for
    loopback, no redirects; failures classified as SPEC §9 needs them."""

    def __init__(self, settings: AdapterSettings, *, transport=None) -> None:
        import httpx

        from mpos_cli.gateway.client import tls_verification

        self.settings = settings
        loopback = is_loopback(urlsplit(settings.base_url).hostname or "")
        connect = min(DEFAULT_CONNECT_TIMEOUT, settings.timeout)
        self.client = httpx.Client(
            base_url=settings.base_url,
            timeout=httpx.Timeout(settings.timeout, connect=connect, pool=connect),
            verify=tls_verification(settings.ca_bundle, plain_http=settings.base_url.startswith("http://")),
            transport=transport,
            trust_env=not loopback,
            follow_redirects=False,
            headers={"User-Agent": "mpos"},
        )

    def send(self, method: str, path: str, *, content: bytes | None = None, headers: Mapping[str, str] | None = None,
             timeout: float | None = None, what: str):
        """One attempt. Returns the response for any status below 500."""
        seconds = self.settings.timeout if timeout is None else min(timeout, self.settings.timeout)
        return send_once(self.client, method, path, who=self.settings.name, where=self.settings.base_url, what=what,
                         seconds=seconds, content=content, headers=dict(headers or {}))

    def close(self) -> None:
        self.client.close()


def json_of(response, what: str, name: str) -> Any:
    """The JSON document of an answer (a UTF-8 byte order mark allowed: the
    Authorize.Net JSON API sends one); anything else is an unknown outcome."""
    text = response.content.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise GatewayOutcomeUnknown(
            f"{name}'s answer to {what} is not JSON (HTTP {response.status_code})",
            hint="the outcome is unknown; mpos recover resolves it",
        ) from exc


def malformed(name: str, what: str, exc: Exception) -> GatewayOutcomeUnknown:
    return GatewayOutcomeUnknown(
        f"{name}'s answer to {what} is malformed ({type(exc).__name__}: {exc})",
        hint="the outcome is unknown; mpos recover resolves it",
    )


# -- the reader's sealed data --------------------------------------------------------------


def _objects(blob_hex: str):
    from mpos_cli.drivers.neo2 import tlv

    return list(tlv.iter_objects(bytes.fromhex(blob_hex)))


def card_data_ksn(blob_hex: str) -> str:
    """The KSN (DFEE12) of the reader's encrypted card objects, or of a
    swipe's Enhanced Encrypted MSR block (DFEE23, the KSN inside it)."""
    from mpos_cli.drivers.neo2 import msr

    for obj in _objects(blob_hex):
        if obj.tag == "DFEE12":
            return obj.value.hex().upper()
        if obj.tag == "DFEE23":
            try:
                ksn = msr.parse(obj.value).ksn
            except msr.MsrBlockError:
                ksn = None
            if ksn:
                return ksn.hex().upper()
    raise UsageError("the reader's card data carries no KSN (DFEE12)", hint="the reader must encrypt under DUKPT")


def pin_block_parts(blob_hex: str | None) -> tuple[str, str] | None:
    """(PIN block, PIN KSN) from the reader's 99 + DFEE51 objects, hex."""
    if not blob_hex:
        return None
    found = {obj.tag: obj.value.hex().upper() for obj in _objects(blob_hex)}
    if "99" in found and "DFEE51" in found:
        return found["99"], found["DFEE51"]
    return None


def emv_tlv(emv: Mapping[str, str]) -> str:
    """The EMV tags a vendor may receive, as one TLV string (hex), never a
    sensitive one (``SENSITIVE_EMV_TAGS``)."""
    from mpos_cli.drivers.neo2 import tlv

    kept = {tag.upper(): value for tag, value in emv.items() if tag.upper() not in SENSITIVE_EMV_TAGS}
    return tlv.encode(kept).hex().upper()


def emv_tags_of(tlv_hex: str) -> dict[str, str]:
    """A vendor's answer TLV (8A, 91, 71, 72 ...) as tag -> hex; scripts (71,
    72) kept whole, as the card wants them."""
    from mpos_cli.drivers.neo2 import tlv

    if not tlv_hex:
        return {}
    objects = tlv.iter_objects(bytes.fromhex(tlv_hex), open_containers=False)
    return {obj.tag: obj.value.hex().upper() for obj in objects}


# -- money ------------------------------------------------------------------------------------


def decimal_amount(minor: int, currency: str) -> str:
    """Minor units as the vendors write amounts: ``1250`` EUR -> ``"12.50"``."""
    from mpos_cli.money import currency as lookup, to_decimal_string

    return to_decimal_string(minor, lookup(currency))


def minor_units(text: Any, currency: str) -> int:
    """A vendor's decimal amount back to minor units, exactly (never a float)."""
    from mpos_cli.money import currency as lookup

    try:
        value = Decimal(str(text))
    except InvalidOperation as exc:
        raise ValueError(f"amount {text!r} is not a number") from exc
    scaled = value.scaleb(lookup(currency).exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {text!r} has more decimals than {currency} allows")
    return int(scaled)


# -- settlement reconciliation --------------------------------------------------------------------


class ReconciliationBook:
    """``<data>/acquirer/<name>-reconciled.json``: the batches mpos closed with
    this acquirer (their answers, so a batch reference is answered the same
    way twice) and the acquirer's transaction ids already reported in one, so
    no transaction is counted in two batches."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.path = Path(data_dir) / f"{name}-reconciled.json"

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"batches": {}, "reported": [], "cursor": None}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            from mpos_cli.errors import StateUnreadable

            raise StateUnreadable(f"{self.path} is unreadable ({exc})", hint="fix or restore it") from exc

    def save(self, book: dict[str, Any]) -> None:
        from mpos_cli.storage_util import atomic_write, ensure_dir

        ensure_dir(self.path.parent)
        atomic_write(self.path, json.dumps(book, indent=1).encode())
