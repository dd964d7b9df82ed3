"""mpos doctor through the CLI: healthy, and each part broken in turn, each
with the exit status of its area (SPEC §12) and a line saying what to do."""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timedelta

import pytest

from mpos_cli import doctor as doctor_mod
from tests.helpers.sandbox import ServedSandbox, free_port

KEY = "doctor-test-key-0c4e"


def lines(result) -> dict[str, tuple[str, str]]:
    """check name -> (status, detail), from the human output."""
    out = {}
    for line in result.stdout.splitlines():
        status, name, detail = line.split(None, 2)
        out[name] = (status, detail)
    return out


def by_check(result) -> dict[str, dict]:
    return {entry["check"]: entry for entry in result.json()}


@pytest.fixture
def healthy(mpos):
    """A home with a zone set and a sale in the journal."""
    assert mpos("config", "set", "timezone", "Europe/Dublin").exit_code == 0
    assert mpos("charge", "12.00", "--json").exit_code == 0


@pytest.fixture
def served(tmp_path):
    server = ServedSandbox(tmp_path / "acquirer-home", key=KEY).start()
    yield server
    server.stop()


def test_healthy_with_the_embedded_sandbox_and_the_simulated_reader(mpos, healthy):
    result = mpos("doctor", "--json")
    assert result.exit_code == 0, result
    checks = by_check(result)
    assert {"home", "journal", "config", "clock", "reader", "acquirer.api", "hub", "hooks", "offline",
            "recover"} <= checks.keys()
    assert all(set(entry) == {"check", "status", "detail"} for entry in result.json())
    assert {entry["status"] for entry in result.json()} == {"ok"}, result.stdout
    assert "1 transaction in 1 month" in checks["journal"]["detail"]
    assert "Europe/Dublin" in checks["clock"]["detail"]
    assert "simulated reader" in checks["reader"]["detail"]
    assert "SANDBOX" in checks["acquirer.api"]["detail"]

    human = mpos("doctor")
    assert human.exit_code == 0, human
    assert set(status for status, _ in lines(human).values()) == {"ok"}
    assert human.stderr == ""


def test_healthy_against_an_acquirer_on_the_network(mpos, healthy, served):
    env = {"MPOS_GATEWAY_URL": served.url, "MPOS_GATEWAY_KEY": KEY}
    result = mpos("doctor", "--json", env=env)
    assert result.exit_code == 0, result
    checks = by_check(result)
    for name in ("acquirer.dns", "acquirer.tcp", "acquirer.tls", "acquirer.api", "acquirer.credentials"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "no lookup needed" in checks["acquirer.dns"]["detail"]
    assert "plain http" in checks["acquirer.tls"]["detail"]
    assert checks["acquirer.credentials"]["detail"] == "accepted (the key in MPOS_GATEWAY_KEY)"
    assert "of the acquirer's clock" in checks["clock"]["detail"]
    assert KEY not in result.stdout + result.stderr


def test_acquirer_down_is_exit_6_with_what_to_do(mpos, healthy):
    port = free_port()  # nothing listens there
    result = mpos("doctor", env={"MPOS_GATEWAY_URL": f"http://127.0.0.1:{port}", "MPOS_GATEWAY_KEY": KEY})
    assert result.exit_code == 6, result
    checks = lines(result)
    status, detail = checks["acquirer.tcp"]
    assert status == "fail"
    assert f"cannot connect to 127.0.0.1:{port}: the connection was refused" in detail and "gateway.url" in detail
    assert "acquirer.api" not in checks  # no step after the one that failed
    assert checks["clock"][0] == "ok" and "no answer" in checks["clock"][1]
    assert result.stderr.startswith("mpos: error: 1 of ") and "acquirer.tcp" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_wrong_key_fails_the_credentials_and_is_never_shown(mpos, healthy, served):
    wrong = "not-the-key-5f1d2a"
    result = mpos("doctor", "--json", env={"MPOS_GATEWAY_URL": served.url, "MPOS_GATEWAY_KEY": wrong})
    assert result.exit_code == 6, result
    checks = by_check(result)
    assert checks["acquirer.api"]["status"] == "ok"  # /v1/health needs no key
    credentials = checks["acquirer.credentials"]
    assert credentials["status"] == "fail"
    assert "refused with the key in MPOS_GATEWAY_KEY" in credentials["detail"] and "401" in credentials["detail"]
    assert wrong not in result.stdout + result.stderr and KEY not in result.stdout + result.stderr


class Blackhole:
    """A loopback port that never answers a SYN: a listening socket whose
    accept queue (backlog 0) is already full, so the kernel drops new SYNs
    and connect() waits until its own time limit."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.port = self.server.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(filler)
        time.sleep(0.1)

    def close(self) -> None:
        for sock in [*self.fillers, self.server]:
            sock.close()


def test_everything_down_is_bounded_by_the_per_check_time_limits(mpos_process, healthy, capsys):
    # Every network step has a short limit of its own (no timed assertion
    # here: the figure is printed, and tests/bench/bench_doctor.py tracks it).
    assert doctor_mod.DNS_TIMEOUT_S <= 2 and doctor_mod.CONNECT_TIMEOUT_S <= 2
    assert doctor_mod.TLS_TIMEOUT_S <= 3 and doctor_mod.HTTP_TIMEOUT_S <= 3 and doctor_mod.DBUS_TIMEOUT_S <= 2
    acquirer, hub = Blackhole(), Blackhole()
    try:
        env = {
            "MPOS_GATEWAY_URL": f"https://127.0.0.1:{acquirer.port}",
            "MPOS_HUB_URL": f"postgresql://mpos:hub-password-77@127.0.0.1:{hub.port}/business",
            "MPOS_READER": "ble:AA:BB:CC:DD:EE:FF",
            "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/system_bus_socket",
        }
        started = time.monotonic()
        result = mpos_process("doctor", "--json", env=env, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        acquirer.close()
        hub.close()
    assert result.exit_code == 5, result  # the reader's area comes first
    checks = by_check(result)
    limit = f"no answer within {doctor_mod.CONNECT_TIMEOUT_S:g} s"
    assert checks["acquirer.tcp"]["status"] == "fail" and limit in checks["acquirer.tcp"]["detail"]
    assert checks["hub.tcp"]["status"] == "fail" and limit in checks["hub.tcp"]["detail"]
    assert checks["bluetooth"]["status"] == "fail"
    assert "hub-password-77" not in result.stdout + result.stderr
    with capsys.disabled():
        print(f"\n[doctor, everything down: {elapsed:.2f} s for the whole process]")


def test_d_bus_missing_is_exit_5(mpos, healthy):
    env = {"MPOS_READER": "ble:AA:BB:CC:DD:EE:FF", "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/system_bus_socket"}
    result = mpos("doctor", env=env)
    assert result.exit_code == 5, result
    status, detail = lines(result)["bluetooth"]
    assert status == "fail"
    assert "cannot reach the system D-Bus at unix:path=/nonexistent/system_bus_socket" in detail
    assert "is dbus running?" in detail


def test_serial_readers_present_or_not(tmp_path):
    # The core, without the CLI: the serial spec's driver may not be in this build.
    from mpos_cli.env import Environment

    def reader_check(path) -> doctor_mod.Check:
        env = Environment(environ={"MPOS_HOME": str(tmp_path / "home"), "MPOS_READER": f"serial:{path}"})
        (check,) = doctor_mod.check_reader(env)
        return check

    missing = reader_check(tmp_path / "ttyACM9")
    assert (missing.status, missing.area) == ("fail", 5) and "plug the reader in" in missing.detail
    plain = tmp_path / "not-a-tty"
    plain.write_text("")
    assert "not a serial device" in reader_check(plain).detail
    leader, follower = os.openpty()  # a real pseudo-terminal stands in for /dev/ttyACM0
    try:
        present = reader_check(os.ttyname(follower))
    finally:
        os.close(leader)
        os.close(follower)
    assert present.status == "ok" and "present and can be opened" in present.detail


def test_a_corrupt_journal_is_exit_8_even_when_the_acquirer_is_down_too(mpos, healthy, isolated_home):
    segment = next((isolated_home / "journal").glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = b"\x00garbage"
    segment.write_bytes(bytes(data))
    before = segment.read_bytes()
    result = mpos("doctor", env={"MPOS_GATEWAY_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.exit_code == 8, result
    checks = lines(result)
    status, detail = checks["journal"]
    assert status == "fail" and "corrupt" in detail and "mpos journal verify" in detail
    assert checks["acquirer.tcp"][0] == "fail"  # also reported, but the journal's area comes first
    assert checks["offline"][0] == "warn" and "unreadable" in checks["offline"][1]
    assert segment.read_bytes() == before  # doctor never writes to it


def test_a_corrupt_config_is_exit_8_and_the_rest_says_why_it_was_not_checked(mpos, isolated_home):
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text("currency = [unterminated\n")
    result = mpos("doctor", "--json")
    assert result.exit_code == 8, result
    checks = by_check(result)
    assert checks["config"]["status"] == "fail" and "unreadable" in checks["config"]["detail"]
    assert checks["acquirer"]["detail"].startswith("not checked: the config is unreadable")


def test_files_open_to_others_fail_the_home(mpos, healthy, isolated_home):
    segment = next((isolated_home / "journal").glob("*.log"))
    os.chmod(segment, 0o644)
    result = mpos("doctor")
    assert result.exit_code == 8, result
    status, detail = lines(result)["home"]
    assert status == "fail"
    assert f"journal/{segment.name} is 0644" in detail and f"chmod -R go-rwx {isolated_home}" in detail


@pytest.fixture
def tls_acquirer(tmp_path):
    """The sandbox acquirer behind TLS with a private CA (as tests/gateway do)."""
    from tests.helpers.gateway import tls_sandbox

    with tls_sandbox(tmp_path / "tls") as served:
        yield served


def test_tls_an_untrusted_certificate_then_the_configured_ca(mpos, healthy, tls_acquirer):
    url, cert_path = tls_acquirer
    untrusted = mpos("doctor", "--json", env={"MPOS_GATEWAY_URL": url})
    assert untrusted.exit_code == 6, untrusted
    tls = by_check(untrusted)["acquirer.tls"]
    assert tls["status"] == "fail" and "not trusted" in tls["detail"] and "gateway.ca_bundle" in tls["detail"]

    assert mpos("config", "set", "gateway.ca_bundle", str(cert_path)).exit_code == 0
    trusted = mpos("doctor", "--json", env={"MPOS_GATEWAY_URL": url})
    assert trusted.exit_code == 0, trusted
    checks = by_check(trusted)
    tls = checks["acquirer.tls"]
    assert tls["detail"].startswith("TLSv1.") and "certificate verified" in tls["detail"]
    # The test certificate lives two days: doctor warns, well before it expires.
    assert tls["status"] == "warn" and "expires soon" in tls["detail"]
    assert checks["acquirer.dns"]["detail"].startswith("localhost is ")


def test_a_clock_far_from_the_acquirers_warns(isolated_home, served, healthy):
    import io

    from mpos_cli.cli import run
    from mpos_cli.env import Environment

    environ = {**os.environ, "MPOS_GATEWAY_URL": served.url, "MPOS_GATEWAY_KEY": KEY}
    out, err = io.StringIO(), io.StringIO()
    ahead = Environment(environ=environ, stdout=out, stderr=err,
                        clock=lambda: datetime.now().astimezone() + timedelta(minutes=10))
    assert run(["doctor", "--json"], ahead) == 0, err.getvalue()  # a warning, not a failure
    import json

    clock = next(c for c in json.loads(out.getvalue()) if c["check"] == "clock")
    assert clock["status"] == "warn"
    assert "10 min ahead of the acquirer's" in clock["detail"] and "timedatectl" in clock["detail"]


def test_offline_payments_and_open_outcomes_warn_until_forwarded_and_recovered(mpos, healthy, isolated_home):
    from mpos_cli.journal import Journal
    from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType, new_transaction_id

    down = {"MPOS_GATEWAY_URL": f"http://127.0.0.1:{free_port()}"}
    stored = mpos("charge", "9.00", "--json", env=down)
    assert stored.exit_code == 0 and stored.json()["status"] == "offline", stored
    now = datetime.now().astimezone()
    lost = Transaction(id=new_transaction_id(now.date().isoformat()), type=TxType.SALE, status=TxStatus.PENDING,
                       stage=Stage.SENT, amount_minor=700, tip_minor=0, currency="EUR", created_at=now,
                       updated_at=now, business_date=now.date().isoformat(), sandbox=True)
    with Journal(isolated_home / "journal") as journal:  # what a crash after sending leaves
        journal.add(lost)

    result = mpos("doctor", "--json")
    assert result.exit_code == 0, result  # warnings only
    checks = by_check(result)
    assert checks["offline"]["status"] == "warn"
    assert checks["offline"]["detail"].startswith("1 payment stored offline (€9.00)")
    assert checks["offline"]["detail"].endswith("mpos offline forward")
    assert checks["recover"]["status"] == "warn"
    assert f"(first: {lost.id}): mpos recover" in checks["recover"]["detail"]

    assert mpos("offline", "forward", "--json").exit_code == 0
    assert mpos("recover", "--json").exit_code == 0
    after = by_check(mpos("doctor", "--json"))
    assert after["offline"]["status"] == "ok" and after["recover"]["status"] == "ok"


def test_hooks_are_listed_and_a_bad_one_warns(mpos, healthy, isolated_home):
    hooks = isolated_home / "hooks"
    hooks.mkdir(mode=0o755)
    (hooks / "post-charge").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(hooks / "post-charge", 0o755)
    (hooks / "pre-charge").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(hooks / "pre-charge", 0o644)
    (hooks / "post_settle").write_text("")
    os.chmod(hooks / "post_settle", 0o600)
    result = mpos("doctor", "--json")
    assert result.exit_code == 0, result
    checks = by_check(result)
    assert checks["home"]["status"] == "ok"  # hooks may be 0755: readable, never writable by others
    detail = checks["hooks"]["detail"]
    assert checks["hooks"]["status"] == "warn"
    assert detail.startswith("post-charge ready")
    assert "pre-charge is not executable" in detail and "post_settle is not a hook name" in detail




def test_the_hub_answers_as_postgresql_and_accepts_the_login_or_not(mpos, healthy, postgres, tmp_path):
    from tests.hub.postgres_server import PASSWORD

    url = postgres.new_database()  # postgresql://mpos:PASSWORD@127.0.0.1:PORT/hub_…
    over_tcp = mpos("doctor", "--json", env={"MPOS_HUB_URL": url})
    assert over_tcp.exit_code == 0, over_tcp
    checks = by_check(over_tcp)
    assert checks["hub.tcp"]["status"] == "ok"
    assert checks["hub"]["detail"].startswith(f"PostgreSQL answers at 127.0.0.1:{postgres.port}")
    assert checks["hub.login"]["status"] == "ok"
    assert PASSWORD not in over_tcp.stdout + over_tcp.stderr

    wrong = mpos("doctor", "--json", env={"MPOS_HUB_URL": url.replace(PASSWORD, "not-the-password-1")})
    assert wrong.exit_code == 6, wrong
    login = by_check(wrong)["hub.login"]
    assert login["status"] == "fail" and "password authentication failed" in login["detail"]
    assert "not-the-password-1" not in wrong.stdout + wrong.stderr

    database = url.rsplit("/", 1)[1]
    over_socket = mpos("doctor", "--json",
                       env={"MPOS_HUB_URL": f"postgresql:///{database}?host={postgres.folder}&port={postgres.port}"
                                            "&user=postgres"})
    assert over_socket.exit_code == 0, over_socket
    assert by_check(over_socket)["hub"]["detail"].startswith(
        f"PostgreSQL answers at {postgres.folder}/.s.PGSQL.{postgres.port}")

    # The sandbox acquirer's port speaks HTTP, not PostgreSQL; a closed port answers nothing.
    served = ServedSandbox(tmp_path / "acquirer-home").start()
    try:
        http = mpos("doctor", env={"MPOS_HUB_URL": f"postgresql://127.0.0.1:{served.port}/shop"})
    finally:
        served.stop()
    assert http.exit_code == 6, http
    assert lines(http)["hub"] == ("fail", f"127.0.0.1:{served.port} accepts connections but did not answer "
                                          "PostgreSQL's greeting within 2 s: is it the hub? check hub.url")
    closed = mpos("doctor", env={"MPOS_HUB_URL": f"postgresql://127.0.0.1:{free_port()}/shop"})
    assert closed.exit_code == 6 and lines(closed)["hub.tcp"][0] == "fail"
