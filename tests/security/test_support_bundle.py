"""mpos support-bundle: what is inside, and nothing that must not be (SPEC §8),
checked with the same scanner as the at-rest test."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile

import pytest

from tests.helpers.sandbox import ServedSandbox, free_port
from tests.helpers.card_data_scan import SECRET, leaks

HUB_PASSWORD = "hub-pw-canary-6e2b"


@pytest.fixture
def acquirer(tmp_path):
    server = ServedSandbox(tmp_path / "acquirer-home", key=SECRET).start()
    yield server
    server.stop()


def members(path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        out = {}
        for info in tar.getmembers():
            assert info.isfile() and info.mode == 0o600, info
            out[info.name.split("/", 1)[1]] = tar.extractfile(info).read()
        return out


def test_a_bundle_of_a_busy_home_holds_what_helps_and_no_card_data_or_secret(mpos_process, isolated_home,
                                                                              acquirer, tmp_path):
    env = {"MPOS_GATEWAY_URL": acquirer.url, "MPOS_GATEWAY_KEY": SECRET}

    def run(*args, code=0, extra=None):
        result = mpos_process(*args, env={**env, **(extra or {})})
        assert result.exit_code == code, (args, result)
        return result

    sales = [run("charge", "15.00", "--card", scenario, "--json").json() for scenario in ("contactless", "chip", "swipe")]
    run("charge", "80.00", "--json")  # online PIN
    run("charge", "10.51", "--json", code=3)
    run("refund", sales[0]["id"], "--amount", "5.00", "--json")
    down = {"MPOS_GATEWAY_URL": f"http://127.0.0.1:{free_port()}"}
    stored = run("charge", "9.00", "--json", extra=down).json()  # its sealed card blob stays in the journal
    assert stored["status"] == "offline"
    failed = run("charge", "9.00", "--offline", "never", code=6, extra=down)
    assert "unreachable" in failed.stderr
    # A secret and a password where they must never be: hand-edited into config.toml.
    config = isolated_home / "config.toml"
    config.write_text(config.read_text() if config.exists() else "")
    with config.open("a") as fh:
        fh.write(f'"gateway.key" = "{SECRET}"\n"hub.url" = "postgresql://till:{HUB_PASSWORD}@127.0.0.1:{free_port()}/shop"\n')

    output = tmp_path / "bundle.tar.gz"
    result = run("support-bundle", "--output", str(output))
    assert result.stdout.strip() == str(output)
    assert "Look inside before you send it" in result.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    parts = members(output)
    assert set(parts) == {"README.txt", "versions.json", "doctor.json", "config.json", "journal-verify.json",
                          "transactions.json", "errors.log"}

    versions = json.loads(parts["versions.json"])
    assert versions["mpos"] and versions["python"] and versions["packages"]["httpx"]
    doctor = {c["check"]: c for c in json.loads(parts["doctor.json"])}
    assert doctor["config"]["status"] == "fail" and "1 more: mpos config show" in doctor["config"]["detail"]
    assert doctor["offline"]["status"] == "warn"
    config = json.loads(parts["config.json"])
    settings = {entry["key"]: entry for entry in config["settings"]}
    assert settings["gateway.key"]["value"] == "[redacted]"
    assert settings["hub.url"]["written"].startswith("postgresql://***@127.0.0.1:")
    assert settings["hub.url"]["value"] == ""  # refused: what mpos uses is the default
    assert "never written to config.toml" in settings["hub.url"]["problem"]
    assert {p["key"] for p in config["problems"]} == {"gateway.key", "hub.url"}
    assert config["environment"]["MPOS_GATEWAY_KEY"] == "[redacted]"
    assert (settings["gateway.url"]["value"], settings["gateway.url"]["source"]) == (acquirer.url, "MPOS_GATEWAY_URL")
    verify = json.loads(parts["journal-verify.json"])
    assert verify["clean"] is True and verify["records"] == 8
    transactions = json.loads(parts["transactions.json"])
    missing = ({s["id"] for s in sales} | {stored["id"]}) - {tx["id"] for tx in transactions}
    assert not missing, (missing, transactions)
    assert all(tx["card"] is None or "*" in tx["card"]["masked_pan"] for tx in transactions)
    assert b"exit=6 [charge] " in parts["errors.log"] and b"exit=3 [charge] declined" in parts["errors.log"]

    problems = leaks(str(output), output.read_bytes(), secrets=(SECRET, HUB_PASSWORD))
    for name, data in parts.items():
        problems += leaks(name, data, secrets=(SECRET, HUB_PASSWORD))
    assert problems == [], "\n".join(problems)
    # ...while the home itself does hold the sealed blob of the stored payment: the bundle left it out.
    assert any(b"stored_card_data" in p.read_bytes() for p in (isolated_home / "journal").glob("*.log"))


def test_a_bundle_is_made_even_when_the_journal_is_corrupt(mpos, isolated_home, tmp_path, monkeypatch):
    assert mpos("charge", "5.00").exit_code == 0
    segment = next((isolated_home / "journal").glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = b"\x00garbage"
    segment.write_bytes(bytes(data))
    assert mpos("journal", "list").exit_code == 8  # "nothing written": not even a log line

    monkeypatch.chdir(tmp_path)
    result = mpos("support-bundle")
    assert result.exit_code == 0, result
    path = tmp_path / result.stdout.strip()
    assert path.name.startswith("mpos-support-") and path.name.endswith(".tar.gz")
    parts = members(path)
    verify = json.loads(parts["journal-verify.json"])
    assert verify["clean"] is False and "corrupt" in verify["problems"][0]
    assert json.loads(parts["transactions.json"])["exit_status"] == 8
    assert {c["check"]: c["status"] for c in json.loads(parts["doctor.json"])}["journal"] == "fail"
    assert b"exit=8" not in parts["errors.log"]


def test_bad_output_is_one_line_and_writes_nothing(mpos, tmp_path):
    result = mpos("support-bundle", "--output", str(tmp_path / "missing" / "b.tar.gz"))
    assert result.exit_code == 2, result
    assert result.stderr.startswith("mpos: error: the folder") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "missing").exists()


def test_the_error_log_keeps_no_card_number_or_secret_and_rotates(isolated_home):
    from mpos_cli import errorlog
    from mpos_cli.env import Environment

    env = Environment(environ={"MPOS_HOME": str(isolated_home), "MPOS_GATEWAY_KEY": SECRET})
    errorlog.record(env, ["charge", "4111 1111 1111 1111", "--note", "x"],
                    f"card 4111 1111 1111 1111 refused; key {SECRET} wrong", 6)
    errorlog.record(env, ["charge", "5"], "typo", 2)  # usage errors are not logged,
    errorlog.record(env, ["journal", "list"], "journal corrupt", 8)  # nor what promises nothing written
    log = isolated_home / "log" / "errors.log"
    text = log.read_text()
    assert text.count("\n") == 1
    assert "[charge] card [digits removed] refused; key [secret removed] wrong" in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert leaks("errors.log", log.read_bytes()) == []

    for _ in range(errorlog.MAX_BYTES // 60 + 10):
        errorlog.record(env, ["settle"], "x" * 40, 7)
    assert (log.parent / "errors.log.1").exists()
    assert log.stat().st_size < errorlog.MAX_BYTES
    assert sum(p.stat().st_size for p in errorlog.paths(env)) < 2 * errorlog.MAX_BYTES + 200
