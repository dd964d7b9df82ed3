"""What a one-shot command loads (issue 14).

The speed goals are measured in tests/bench/bench_cli.py, never timed here;
these tests keep the costs that were taken out of a sale's start from
creeping back in unnoticed: each named module below cost a sale several
milliseconds to tens of milliseconds at every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.sandbox import REPO, point_cli_at

# Runs the CLI as ``python -m mpos_cli`` would, then lists what was imported
# (a None entry is an import that was blocked on purpose, not a module).
LOADED = """
import json, sys
from mpos_cli.cli import run
code = run(sys.argv[2:])
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
with open(sys.argv[1], "w") as out:
    json.dump({"exit": code, "modules": loaded}, out)
"""


def loaded_by(tmp_path, *argv: str) -> set[str]:
    report = tmp_path / "loaded.json"
    proc = subprocess.run([sys.executable, "-c", LOADED, str(report), *argv], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["exit"] == 0, proc.stderr
    return set(result["modules"])


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def acquirer_elsewhere(served_sandbox, monkeypatch):
    """The acquirer as its own process, as a real one (and the background sandbox) is."""
    point_cli_at(monkeypatch, served_sandbox.url, timeout_s=10)
    return served_sandbox


def test_a_contactless_sale_loads_only_what_it_uses(tmp_path, acquirer_elsewhere):
    modules = loaded_by(tmp_path, "charge", "1.00", "--json")
    assert "mpos_cli.payments" in modules and "httpx" in modules  # it did take the payment
    # httpx's own command-line client (click, rich, pygments): blocked in mpos_cli/gateway
    assert "httpx._main" not in modules and "pygments" not in roots(modules)
    # typer 0.29's parameter conversion through pydantic (about 110 ms): pinned below it
    assert "pydantic" not in roots(modules)
    # the iso4217 package's enum: its published XML is read directly (mpos_cli/money.py)
    assert "iso4217" not in roots(modules)
    # PIN blocks for a card that asked no PIN; locale checks for a locale nobody set
    assert "psec" not in roots(modules) and "babel" not in roots(modules)
    # the other command groups: only the group the command line names is built (cli.build_app)
    assert "mpos_cli.commands.charge" in modules
    assert not {f"mpos_cli.commands.{name}" for name in ("settle", "report", "export", "till", "bank")} & modules
    # the hub, with no hub configured
    assert not {name for name in modules if name.startswith("mpos_cli.hub.") and name != "mpos_cli.hub.url"}


def test_the_journal_list_loads_neither_the_acquirer_client_nor_the_reader(tmp_path):
    modules = loaded_by(tmp_path, "journal", "list", "--json")
    assert "mpos_cli.journal" in modules
    assert not roots(modules) & {"httpx", "httpcore", "pydantic", "cryptography", "pyemv", "psec"}
    assert "mpos_cli.drivers.registry" not in modules


def test_a_typo_and_the_help_still_see_every_command(mpos_process):
    typo = mpos_process("chrage", "1.00")
    assert typo.exit_code == 2 and "Did you mean 'charge'?" in typo.stderr
    listing = mpos_process("--help")
    assert all(name in listing.stdout for name in ("charge", "settle", "till", "bank", "doctor"))


def test_the_help_loads_no_settings_journal_acquirer_or_reader(tmp_path):
    modules = loaded_by(tmp_path, "--help")
    assert "mpos_cli.commands.charge" in modules  # every group, to list them
    assert not {"mpos_cli.config", "mpos_cli.journal", "mpos_cli.gateway", "mpos_cli.payments",
                "mpos_cli.drivers.registry"} & modules
    assert not roots(modules) & {"httpx", "pydantic", "tinydb", "cryptography", "babel"}
