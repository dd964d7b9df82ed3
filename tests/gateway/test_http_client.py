"""HttpGateway: failures told apart at the transport level, the https-only
rule, TLS verification, open_gateway, and what reaches the disk."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mpos_cli.drivers.sim import test_material
from mpos_cli.env import Environment
from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, GatewayUnreachable, UsageError, exit_status_of
from mpos_cli.gateway import open_gateway
from mpos_cli.gateway.base import RefundRequest
from mpos_cli.gateway.client import HttpGateway
from mpos_cli.gateway.sandbox import database_path
from tests.helpers.gateway import FaultServer, card_request, new_reference, pan_like_runs
from tests.helpers.sandbox import KEY

# -- the https-only rule (SPEC §8) ----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765", "http://127.9.9.9", "http://[::1]:8765/", "http://localhost:1", "https://acquirer.example"],
)
def test_https_or_loopback_urls_are_accepted(url):
    HttpGateway(url).close()


@pytest.mark.parametrize(
    "url",
    ["http://acquirer.example", "http://10.0.0.1:8765", "http://128.0.0.1", "ftp://127.0.0.1", "127.0.0.1:8765",
     "https://user:hunter2-xyz@acquirer.example"],
)
def test_plain_http_to_a_remote_host_and_other_schemes_are_refused(url):
    with pytest.raises(UsageError) as caught:
        HttpGateway(url)
    assert exit_status_of(caught.value) == 2
    assert "hunter2-xyz" not in caught.value.one_line()


def test_open_gateway_refuses_a_plain_http_remote_url(tmp_path):
    env = Environment(environ={"MPOS_HOME": str(tmp_path), "MPOS_GATEWAY_URL": "http://acquirer.example/"})
    with pytest.raises(UsageError) as caught:
        open_gateway(env)
    assert "https://" in caught.value.one_line()


# -- failures the request certainly did not survive --------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_unreachable():
    gateway = HttpGateway(f"http://127.0.0.1:{_closed_port()}", key=KEY, retries=0)
    with pytest.raises(GatewayUnreachable) as caught:
        gateway.authorise(card_request(1250))
    assert exit_status_of(caught.value) == 6
    assert KEY not in caught.value.one_line()


def test_a_name_that_does_not_resolve_is_unreachable():
    gateway = HttpGateway("https://mpos-acquirer.invalid", timeout=3.0, retries=0)
    with pytest.raises(GatewayUnreachable):
        gateway.lookup("anything")


# -- failures after the request may have arrived -------------------------------------------


@pytest.mark.parametrize("mode", ["reset", "close", "not-http", "garbage-json", "json-array", "500", "502"])
def test_faults_after_sending_are_unknown_outcomes(mode):
    with FaultServer(mode) as fault:
        gateway = HttpGateway(fault.url, key=KEY, retries=0)
        with pytest.raises(GatewayOutcomeUnknown) as caught:
            gateway.authorise(card_request(1250))
        assert fault.requests == 1  # it did arrive
        assert KEY not in caught.value.one_line()
        assert exit_status_of(caught.value) == 6


def test_a_malformed_result_is_an_unknown_outcome():
    with FaultServer("wrong-shape") as fault:
        with pytest.raises(GatewayOutcomeUnknown):
            HttpGateway(fault.url, retries=0).authorise(card_request(1250))


def test_5xx_is_retried_under_the_same_key_then_reported_unknown():
    with FaultServer("500") as fault:
        with pytest.raises(GatewayOutcomeUnknown):
            HttpGateway(fault.url, retries=2).authorise(card_request(1250, reference="R-5xx"))
        assert fault.requests == 3
        assert fault.idempotency_keys == ["R-5xx"] * 3


def test_reads_that_time_out_are_not_retried(sandbox):
    # .98: the acquirer approves, then holds its answer past our timeout.
    gateway = sandbox.gateway(timeout=0.3, retries=3)
    request = card_request(2098)
    with pytest.raises(GatewayOutcomeUnknown) as caught:
        gateway.authorise(request)
    assert "did not answer" in caught.value.message
    assert sandbox.gateway().lookup(request.reference).status == "approved"


def test_a_reset_after_the_acquirer_approved_is_retried_and_replayed_not_charged_twice(sandbox):
    with FaultServer("reset-once", upstream=sandbox.url) as fault:
        result = sandbox.gateway(url=fault.url, retries=2).authorise(card_request(1250))
        assert fault.requests == 2
    assert result.approved
    rows = [row for row in sandbox.gateway().ledger() if row["reference"] == result.reference]
    assert len(rows) == 1 and rows[0]["auth_code"] == result.auth_code


def test_a_5xx_once_then_an_answer_succeeds(sandbox):
    with FaultServer("503-once", upstream=sandbox.url) as fault:
        refund_gateway = sandbox.gateway(url=fault.url, retries=1)
        sale = sandbox.gateway().authorise(card_request(1250))
        refund = refund_gateway.refund(RefundRequest(new_reference("R"), sale.reference, 100, "EUR"))
    assert refund.approved
    assert sandbox.gateway().lookup(sale.reference).refunded_minor == 100


# -- refusals ---------------------------------------------------------------------------------


def test_a_bad_request_is_rejected_with_the_servers_message(gateway):
    with pytest.raises(GatewayRejected) as caught:
        gateway.authorise(card_request(0))
    assert exit_status_of(caught.value) == 1
    assert "amount_minor must be between 1" in caught.value.message


def test_the_key_never_shows_in_messages_or_repr(sandbox):
    gateway = sandbox.gateway(key="sk_live_should_never_print")
    with pytest.raises(GatewayRejected) as caught:
        gateway.ledger()
    assert "sk_live_should_never_print" not in caught.value.one_line()
    assert "sk_live_should_never_print" not in repr(gateway)


# -- TLS: verification always on, a private CA when configured ----------------------------


@pytest.fixture
def tls_sandbox(tmp_path):
    from tests.helpers.gateway import tls_sandbox

    with tls_sandbox(tmp_path) as served:
        yield served


def test_an_untrusted_certificate_is_refused_before_anything_is_sent(tls_sandbox):
    url, _ = tls_sandbox
    with pytest.raises(GatewayUnreachable) as caught:
        HttpGateway(url, retries=0).authorise(card_request(1250))
    assert "ca_bundle" in caught.value.hint


def test_a_configured_ca_bundle_is_trusted(tls_sandbox):
    url, cert_path = tls_sandbox
    gateway = HttpGateway(url, ca_bundle=str(cert_path))
    assert gateway.sandbox is True
    assert gateway.authorise(card_request(1250)).approved


def test_an_unreadable_ca_bundle_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        HttpGateway("https://acquirer.example", ca_bundle=str(tmp_path / "missing.pem"))


# -- open_gateway -------------------------------------------------------------------------------


def _env(home: Path, **environ: str) -> Environment:
    return Environment(environ={"MPOS_HOME": str(home), **environ})


def test_with_no_config_open_gateway_embeds_the_sandbox_under_the_home(tmp_path):
    home = tmp_path / "home"
    with open_gateway(_env(home)) as gateway:
        assert gateway.sandbox is True
        assert gateway.authorise(card_request(1250)).approved
    path = database_path(home)
    assert path == home / "sandbox" / "acquirer.sqlite3"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The ledger persists across runs.
    with open_gateway(_env(home, MPOS_GATEWAY_URL="sandbox")) as gateway:
        assert len(gateway.ledger()) == 1


def test_the_gateway_timeout_comes_from_the_environment(tmp_path):
    env = _env(tmp_path, MPOS_GATEWAY_TIMEOUT="0.4", MPOS_SANDBOX_HOLD_SECONDS="30")
    with open_gateway(env) as gateway:
        assert gateway.timeout == 0.4
        with pytest.raises(GatewayOutcomeUnknown):
            gateway.authorise(card_request(1298))


def test_a_bad_hold_length_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as caught:
        open_gateway(_env(tmp_path, MPOS_SANDBOX_HOLD_SECONDS="soon"))
    assert "MPOS_SANDBOX_HOLD_SECONDS" in caught.value.one_line()


def test_a_url_to_a_served_sandbox_is_recognised_by_its_health(sandbox, tmp_path):
    env = _env(tmp_path, MPOS_GATEWAY_URL=sandbox.url, MPOS_GATEWAY_KEY=KEY)
    with open_gateway(env) as gateway:
        assert gateway.sandbox is True
        assert gateway.authorise(card_request(1250)).approved


def test_a_url_to_another_server_is_not_called_a_sandbox(tmp_path):
    with FaultServer("404") as fault:
        with open_gateway(_env(tmp_path, MPOS_GATEWAY_URL=fault.url)) as gateway:
            assert gateway.sandbox is False


def test_other_adapters_come_from_the_entry_point_group(tmp_path, monkeypatch):
    import importlib.metadata

    fake = EntryPoint(name="acme", value="tests.helpers.gateway:RecordingAdapter", group="mpos.gateways")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [fake] if group == "mpos.gateways" else [])
    env = _env(tmp_path, MPOS_GATEWAY_URL="acme+https://api.acme.example/")
    gateway = open_gateway(env)
    assert type(gateway).__name__ == "RecordingAdapter" and gateway.env is env
    with pytest.raises(UsageError):
        open_gateway(_env(tmp_path, MPOS_GATEWAY_URL="nobody://x"))


# -- many processes on one ledger -------------------------------------------------------------------


def test_a_served_sandbox_and_an_embedded_one_share_the_ledger(tmp_path):
    home = tmp_path / "home"
    code = (
        "import sys; from pathlib import Path; from mpos_cli.gateway.sandbox import serve; "
        "serve('127.0.0.1', 0, Path(sys.argv[1]), key=None, hold_seconds=0, ready=lambda url: print(url, flush=True))"
    )
    served = subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True)
    try:
        url = served.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        other_process = HttpGateway(url)
        with open_gateway(_env(home)) as this_process:
            sales = [card_request(1000 + n) for n in range(10)]
            for n, sale in enumerate(sales):
                (other_process if n % 2 else this_process).authorise(sale)
            assert this_process.authorise(sales[1]) == other_process.authorise(sales[1])
            assert {row["reference"] for row in other_process.ledger()} == {s.reference for s in sales}
            assert sum(this_process.close_batch("B-shared", "2999-01-01").totals["EUR"].values()) > 0
        other_process.close()
    finally:
        served.terminate()
        served.wait(timeout=30)


# -- SPEC §8: no PAN, PIN or key on disk ----------------------------------------------------------------


def test_the_ledger_files_hold_no_pan_pin_or_key(sandbox):
    gateway = sandbox.gateway()
    sales = [
        gateway.authorise(card_request(1250, card="visa", entry_mode="contactless", pin=None)),
        gateway.authorise(card_request(1251)),
        gateway.authorise(card_request(1250, pin="9999")),
        gateway.authorise(card_request(1250, card="visa", entry_mode="swipe", pin=None)),
        gateway.authorise(card_request(1250, deferred=True, captured_at=datetime.now(timezone.utc) - timedelta(hours=3))),
    ]
    gateway.refund(RefundRequest(new_reference("R"), sales[0].reference, 100, "EUR"))
    gateway.void(new_reference("V"), sales[3].reference)
    gateway.reverse(sales[4].reference, reason="test")
    gateway.close_batch("B-scan", "2999-12-31")
    gateway.ledger()

    files = sorted(database_path(sandbox.data_dir).parent.iterdir())
    assert files, "the ledger was not written where expected"
    contents = b"".join(path.read_bytes() for path in files)
    assert pan_like_runs(contents) == []
    for card in test_material.TEST_CARDS.values():
        assert card.pan.encode() not in contents
    assert KEY.encode() not in contents
    assert b'"pin"' not in contents and test_material.SANDBOX_PIN.encode() + b'"' not in contents
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_pan_scan_finds_a_pan_where_one_is_written(tmp_path):
    # The check above can fail: a PAN written the way a careless store would is found.
    leaked = b'{"reference": "x", "pan": "' + test_material.TEST_CARDS["visa"].pan.encode() + b'"}'
    assert pan_like_runs(b"\x00\x01" + leaked + os.urandom(4)) == [test_material.TEST_CARDS["visa"].pan]
