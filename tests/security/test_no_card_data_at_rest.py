"""SPEC §8, end to end: every card scenario, refunds, voids, receipts in every
format, journal, reports, exports, offline storage and forwarding,
settlement and recovery, as separate processes against each acquirer
started with recognisable credentials: ``mpos sandbox serve``, and the fakes
of Cybersource and Authorize.Net (tests/fakes/running.py), each stopped and
started again on the same port for the offline part. Then every file under
the homes, every file written with --output, and every stdout and stderr are
scanned for PANs, track data, PIN blocks, the secret and the other
credentials (merchant id, key id), by tests/helpers/card_data_scan.py. File
modes under the homes: 0600 / 0700.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest

from psec import pinblock as iso9564

from mpos_cli.drivers.sim import test_material
from tests.fakes.running import ACQUIRERS, start_served
from tests.helpers.card_data_scan import PANS, SECRET, WRONG, files_under, leaks
from tests.helpers.sandbox import ServedSandbox

# The secret each acquirer is started with, and a wrong one, in the form its
# credentials take: Cybersource's shared secret is base64 (its raw bytes are
# the canary, so the HMAC key itself is looked for too); an Authorize.Net
# transaction key is at most 16 characters (AnetApiSchema.xsd).
KEYS = {
    "sandbox": (SECRET, WRONG),
    "cybersource": (base64.b64encode(SECRET.encode()).decode(), base64.b64encode(WRONG.encode()).decode()),
    "authorizenet": ("sEcReTcnry8b41f7", "wrongcnry31c9e0a"),
}


@pytest.fixture
def acquirer(request, tmp_path):
    """The acquirer named by the test's parameter, started with its canary
    secret, restartable on the same port."""
    server = start_served(request.param, tmp_path / "acquirer-home", key=KEYS[request.param][0])
    try:
        yield server
    finally:
        server.stop()


# Each acquirer, every command as its own process (as a user runs them): about
# a minute each on two busy cores, so the fakes' runs are the slow share, run
# only when asked: ``MPOS_SCAN_PROCESSES=1 pytest -m slow tests/security/``.
# The normal suite runs the same commands against each fake in this process
# (the ``mpos`` fixture: same files, same stdout and stderr), in seconds.
AS_PROCESSES = [pytest.mark.slow, pytest.mark.skipif(
    not os.environ.get("MPOS_SCAN_PROCESSES"), reason="the fakes' scans as processes: set MPOS_SCAN_PROCESSES=1")]
SCANS = [
    pytest.param("sandbox", "mpos_process", id="sandbox"),
    *[pytest.param(name, "mpos", id=f"{name}-in-process") for name in ACQUIRERS if name != "sandbox"],
    *[pytest.param(name, "mpos_process", id=name, marks=AS_PROCESSES) for name in ACQUIRERS if name != "sandbox"],
]


def credentials_of(acquirer) -> tuple[str, ...]:
    """Every credential value that must appear nowhere: the secret, the wrong
    one tried, the merchant id and key id, and a base64 secret's raw bytes."""
    values = [value for name, value in acquirer.env().items() if name != "MPOS_GATEWAY_URL"]
    values.append(KEYS[acquirer.name][1])
    if acquirer.name == "cybersource":
        values += [base64.b64decode(key).decode() for key in KEYS["cybersource"]]
    return tuple(values)


@pytest.mark.parametrize(("acquirer", "runner_name"), SCANS, indirect=["acquirer"])
def test_no_card_data_or_secret_at_rest_or_in_output(request, runner_name, isolated_home, acquirer, tmp_path):
    runner = request.getfixturevalue(runner_name)
    out_dir = tmp_path / "outputs"
    out_dir.mkdir()
    env = {**acquirer.env(), "MPOS_GATEWAY_TIMEOUT": "5"}
    secrets = credentials_of(acquirer)
    outputs: list[tuple[str, str]] = []

    def run(*args: str, code: int | None = 0, extra: dict | None = None):
        result = runner(*args, env={**env, **(extra or {})})
        outputs.append((" ".join(args), result.stdout + result.stderr))
        if code is not None:
            assert result.exit_code == code, (args, result)
        return result

    def sale(*args: str, code: int = 0) -> dict:
        return run("charge", *args, "--json", code=code).json()

    def at_rest(*roots: Path) -> list[str]:
        return [leak for root in roots for path in files_under(root) for leak in leaks(str(path), path.read_bytes(), secrets)]

    # Every card scenario, human and JSON output.
    run("charge", "12.00")
    run("charge", "80.00")  # contactless above the CVM limit: online PIN
    sales = [sale("15.00", "--card", scenario) for scenario in ("contactless", "chip", "swipe")]
    sale("5.00", "--card", "removed", code=4)
    sale("5.00", "--card", "no-card", code=4)
    sale("5.00", "--card", "offline-decline", code=3)
    sale("10.05", code=3)  # declined by the issuer
    sale("20.00", "--tip", "2.00", "--note", "table 4")

    # A void (before the gateway's cut-off: a settled sale can no longer be
    # voided), the cut-off (Authorize.Net refunds settled sales only), refunds.
    run("void", sales[1]["id"], "--json")
    acquirer.settle_pending()
    run("refund", sales[0]["id"], "--amount", "5.00", "--json")
    run("refund", sales[0]["id"], "--json")

    # Receipts in every format, to stdout and to files.
    for index, tx in enumerate(sales):
        for fmt in ("text", "html", "escpos"):
            run("receipt", tx["id"], "--format", fmt, "--output", str(out_dir / f"r{index}.{fmt}"))
        run("receipt", tx["id"], "--format", "text", "--copy", "merchant")
        run("receipt", tx["id"])

    # The journal, reports, exports.
    run("journal", "list")
    run("journal", "list", "--csv")
    run("journal", "list", "--json")
    run("journal", "show", sales[2]["id"], "--json")
    run("journal", "show", sales[2]["id"])
    run("report", "--json")
    run("report", "--csv")
    for fmt in ("csv", "json", "beancount"):
        run("export", "--format", fmt, "--output", str(out_dir / f"export.{fmt}"))
        run("export", "--format", fmt)

    # Offline: the sealed card blob is at rest while the acquirer is down.
    acquirer.stop()
    stored = sale("9.00")
    assert stored["status"] == "offline"
    run("offline", "status", "--json")
    run("offline", "status")
    run("charge", "9.00", "--offline", "never", code=6, extra={"MPOS_DEBUG": "1"})
    at_rest_while_stored = at_rest(isolated_home)
    acquirer.start()
    forwarded = run("offline", "forward", "--json").json()
    assert [(tx["id"], tx["status"]) for tx in forwarded] == [(stored["id"], "approved")]

    run("settle", "--json")
    run("settle")
    run("recover", "--json")
    if acquirer.name == "sandbox":
        run("sandbox", "ledger", "--json")
        run("sandbox", "ledger")
    run("config", "show")
    run("config", "show", "--json")
    refused = run("config", "set", "gateway.key", KEYS[acquirer.name][0], code=2)
    assert "keyring" in refused.stderr or "MPOS_GATEWAY_KEY" in refused.stderr
    # A wrong key: refused by the acquirer, and the key is not repeated back.
    assert acquirer.refused_requests() == []  # every request was signed / valid against the XSD
    wrong = run("charge", "3.00", code=None, extra={"MPOS_GATEWAY_KEY": KEYS[acquirer.name][1], "MPOS_DEBUG": "1"})
    assert wrong.exit_code != 0, wrong  # (MPOS_DEBUG: the traceback and exit 1, still never the key)

    problems = list(at_rest_while_stored)
    for command, text in outputs:
        problems += leaks(f"output of mpos {command}", text.encode(), secrets)
    scanned = files_under(isolated_home) + files_under(out_dir) + [p for home in acquirer.homes for p in files_under(home)]
    assert len(scanned) > 10
    problems += at_rest(isolated_home, out_dir, *acquirer.homes)
    assert problems == [], "\n".join(problems)

    # Masked PANs are first 6 + last 4 at most.
    for tx in sales:
        masked = tx["card"]["masked_pan"]
        assert re.fullmatch(r"\d{6}\*+\d{4}", masked), masked

    # Modes: files 0600, folders 0700, under every home.
    wrong_modes = []
    for root in (isolated_home, *acquirer.homes):
        for path in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            wanted = 0o700 if path.is_dir() else 0o600
            if mode != wanted:
                wrong_modes.append(f"{path}: {mode:o} (wanted {wanted:o})")
    assert wrong_modes == [], "\n".join(wrong_modes)
    config = isolated_home / "config.toml"
    assert not config.exists() or not any(secret in config.read_text() for secret in secrets)


def test_plain_http_to_a_remote_acquirer_is_refused_before_anything_is_written(mpos, isolated_home):
    result = mpos("charge", "5.00", env={"MPOS_GATEWAY_URL": "http://acquirer.example.com", "MPOS_GATEWAY_KEY": SECRET})
    assert result.exit_code == 2, result
    assert "https" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    journal = isolated_home / "journal"
    assert not journal.exists() or not any(p.suffix == ".log" for p in journal.iterdir())


def test_the_key_comes_from_the_os_keyring_and_is_never_written(mpos, isolated_home, tmp_path, monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class Vault(KeyringBackend):
        """A keyring backend holding one secret in memory (this machine has no desktop keyring)."""

        priority = 1

        def get_password(self, service, username):
            return SECRET if (service, username) == ("mpos", "gateway") else None

        def set_password(self, service, username, password):
            raise NotImplementedError

        def delete_password(self, service, username):
            raise NotImplementedError

    server = ServedSandbox(tmp_path / "acquirer-home", key=SECRET).start()
    previous = keyring.get_keyring()
    keyring.set_keyring(Vault())
    try:
        monkeypatch.delenv("MPOS_GATEWAY_KEY", raising=False)
        assert mpos("config", "set", "gateway.url", server.url).exit_code == 0
        result = mpos("charge", "6.00", "--json")
        assert result.exit_code == 0, result  # the served sandbox only answers with the key
        shown = mpos("config", "show")
        assert shown.exit_code == 0
        for text in (result.stdout, result.stderr, shown.stdout, shown.stderr,
                     (isolated_home / "config.toml").read_text()):
            assert SECRET not in text
    finally:
        keyring.set_keyring(previous)
        server.stop()


def test_the_scanner_finds_clear_pin_blocks_and_pin_fields():
    block = iso9564.encode_pinblock_iso_0(test_material.SANDBOX_PIN, PANS[0]).hex()
    assert any("a clear card object or PIN block" in leak for leak in leaks("sample", f"pinblock={block}".encode()))
    assert leaks("sample", b'{"pin": "1234"}') == ["sample: a clear PIN field"]
    assert leaks("sample", b"nothing to see: 411111******1111") == []
