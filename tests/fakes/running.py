"""The acquirers the fault suite, the kill harness, the CLI tests and the
security scan run against, behind one face: the sandbox, the fake
Cybersource and the fake Authorize.Net, each a real HTTP server on loopback.

``Acquirer.env`` is what the CLI needs to reach it (URL and credentials),
``url_for(base)`` the gateway URL for a proxy in front of it, ``ledger()`` its
own view in the sandbox ledger's shape, ``settle_pending()`` its daily
cut-off (a no-op for the sandbox, which settles when asked), and
``classify`` names each request as the sandbox's route of the same meaning,
so that fault rules and checks read alike for every acquirer.

``start_served`` gives the same face to an acquirer that can be stopped and
started again on the same port, its ledger kept (the offline tests and the
security scan): ``mpos sandbox serve`` as its own process, or a fake whose
server comes back on its old port.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers.sandbox import KEY, Ledger

ACQUIRERS = ("sandbox", "cybersource", "authorizenet")

# Sandbox routes, as every acquirer's requests are named for the fault proxy.
AUTH, LOOKUP, REVERSAL, REFUNDS, VOIDS, BATCHES = (
    "/v1/authorisations", "/v1/transactions/", "/v1/reversals", "/v1/refunds", "/v1/voids", "/v1/batches",
)


class Acquirer(Ledger):
    name = "sandbox"
    # Does the adapter resend an authorisation whose answer was lost (under an
    # idempotency key or a duplicate window)? Cybersource has neither: it looks up.
    resends_authorisation = True
    # Does a payment forwarded after being stored offline arrive marked as a
    # deferred authorisation? Authorize.Net documents no such flag.
    marks_deferred = True
    # Folders the acquirer keeps its own files in (the security scan reads them).
    homes: tuple[Path, ...] = ()

    def __init__(self, data_dir: Path, *, hold_seconds: float = 30.0, issuer_authentication: bool = True,
                 key: str = KEY) -> None:
        from mpos_cli.gateway.sandbox import start_embedded

        self.data_dir = data_dir
        self.key = key
        self.base_url, self._stop = start_embedded(data_dir, key=key, hold_seconds=hold_seconds)

    def url_for(self, base: str) -> str:
        return base

    @property
    def url(self) -> str:
        return self.url_for(self.base_url)

    def env(self, base: str | None = None) -> dict[str, str]:
        return {"MPOS_GATEWAY_URL": self.url_for(base or self.base_url), "MPOS_GATEWAY_KEY": self.key}

    def settle_pending(self) -> None:
        return None

    def foreign_sale(self, total_minor: int) -> None:
        from mpos_cli.gateway.base import SeedSale
        from mpos_cli.gateway.client import HttpGateway

        with HttpGateway(self.base_url, key=self.key, sandbox=True) as gateway:
            from datetime import datetime, timezone

            gateway.seed([SeedSale("OTHER-TERMINAL-1", total_minor, 0, "EUR",
                                   datetime.now(timezone.utc).astimezone().isoformat(), "541333******4111",
                                   "mastercard")])

    @staticmethod
    def classify(method: str, path: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        return path, headers.get("idempotency-key")

    def refused_requests(self) -> list[str]:
        """Requests the acquirer refused as malformed or unsigned (a fake's checks)."""
        return []

    def stop(self) -> None:
        self._stop()


class _FakeAcquirer(Acquirer):
    fake_class = None

    def __init__(self, data_dir: Path, *, hold_seconds: float = 30.0, issuer_authentication: bool = True,
                 key: str | None = None) -> None:
        from tests.fakes.common import FakeServer

        self.data_dir = data_dir
        self.fake = self.make_fake(hold_seconds=hold_seconds, issuer_authentication=issuer_authentication, key=key)
        self.key = self.fake.credentials()["MPOS_GATEWAY_KEY"]
        self.server = FakeServer(self.fake)
        self.base_url = self.server.url

    def env(self, base: str | None = None) -> dict[str, str]:
        return {"MPOS_GATEWAY_URL": self.url_for(base or self.base_url), **self.fake.credentials()}

    def url_for(self, base: str) -> str:
        return f"{self.name}+{base}"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> "_FakeAcquirer":
        """Serve again on the same port after ``stop``, with the ledger it had."""
        from tests.fakes.common import FakeServer

        self.server = FakeServer(self.fake, port=self.port)
        return self

    def ledger(self) -> list[dict]:
        return self.fake.ledger()

    def refused_requests(self) -> list[str]:
        return list(self.fake.refused)

    def settle_pending(self) -> None:
        self.fake.settle_pending()

    def foreign_sale(self, total_minor: int) -> None:
        self.fake.foreign_sale(total_minor)

    def stop(self) -> None:
        self.server.stop()


class CybersourceAcquirer(_FakeAcquirer):
    name = "cybersource"
    resends_authorisation = False

    def make_fake(self, *, key, **options):
        from tests.fakes.cybersource_fake import SHARED_SECRET, FakeCybersource

        return FakeCybersource(secret=key or SHARED_SECRET, **options)

    @staticmethod
    def classify(method: str, path: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        code = (data.get("clientReferenceInformation") or {}).get("code")
        route = path.split("?", 1)[0]
        if route == "/pts/v2/payments":
            return AUTH, code
        if route == "/tss/v2/searches":
            match = re.search(r"code:(\S+)", str(data.get("query") or ""))
            return LOOKUP + (match[1] if match else ""), None
        if route == "/pts/v2/voids":
            return REVERSAL, code
        if route.endswith("/refunds"):
            return REFUNDS, code
        if route.endswith("/voids"):
            return VOIDS, code
        if route.startswith("/reporting/"):
            return BATCHES, None
        return route, code


class AuthorizeNetAcquirer(_FakeAcquirer):
    name = "authorizenet"
    marks_deferred = False

    def make_fake(self, *, key, **options):
        from tests.fakes.authorizenet_fake import TRANSACTION_KEY, FakeAuthorizeNet

        return FakeAuthorizeNet(transaction_key=key or TRANSACTION_KEY, **options)

    def classify(self, method: str, path: str, headers: dict, body: bytes) -> tuple[str, str | None]:
        try:
            data = json.loads(body.decode("utf-8-sig") or "{}")
            (root, content), = data.items()
        except (ValueError, AttributeError):
            return path, None
        ref_id = content.get("refId")
        if root == "createTransactionRequest":
            kind = (content.get("transactionRequest") or {}).get("transactionType")
            if kind == "authCaptureTransaction":
                return AUTH, ref_id
            if kind == "refundTransaction":
                return REFUNDS, ref_id
            if kind == "voidTransaction":
                # The adapter voids a sale under the sale's own reference to reverse it,
                # under the void's reference to void it.
                entry = self.fake.entries.get(ref_id)
                return (REVERSAL if entry is not None and entry.kind == "sale" else VOIDS), ref_id
        if root in ("getUnsettledTransactionListRequest", "getTransactionDetailsRequest",
                    "getTransactionListRequest"):
            return LOOKUP + root, None
        if root == "getSettledBatchListRequest":
            return LOOKUP + root, None
        return path, ref_id


def start(name: str, data_dir: Path, **options) -> Acquirer:
    kinds = {"sandbox": Acquirer, "cybersource": CybersourceAcquirer, "authorizenet": AuthorizeNetAcquirer}
    return kinds[name](data_dir, **options)


class ServedSandboxAcquirer(Acquirer):
    """``mpos sandbox serve`` as its own process, with its own home, behind
    the acquirers' face; ``stop`` and ``start`` keep its port and ledger."""

    def __init__(self, home: Path, *, key: str = KEY) -> None:
        from tests.helpers.sandbox import ServedSandbox

        self.served = ServedSandbox(home, key=key)
        self.data_dir = home
        self.key = key
        self.base_url = self.served.url
        self.homes = (home,)

    def start(self) -> "ServedSandboxAcquirer":
        self.served.start()
        return self

    def stop(self) -> None:
        self.served.stop()


def start_served(name: str, home: Path, *, key: str | None = None) -> Acquirer:
    """The acquirer ``name`` serving on loopback, restartable on the same port
    (``stop()``, then ``start()``): the sandbox as ``mpos sandbox serve`` in
    its own process, a fake in this one. ``key`` is the secret it wants."""
    if name == "sandbox":
        return ServedSandboxAcquirer(home, key=key or KEY).start()
    return start(name, home, key=key)
