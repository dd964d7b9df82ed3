"""`pip install .` into a fresh venv: one import namespace, man pages installed (SPEC §1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with mpos installed from a copy of the source tree (no deps:
    only what mpos itself installs is looked at)."""
    root = tmp_path_factory.mktemp("pkg")
    source = root / "src"
    shutil.copytree(
        REPO, source,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build", "tests"),
    )
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False, system_site_packages=False)
    # The outer interpreter's pip installs into the new venv's prefix; --ignore-installed
    # so that it never uninstalls the mpos of the venv running the tests.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", "--disable-pip-version-check",
         "--prefix", str(env_dir), str(source)],
        check=True, capture_output=True, text=True,
    )
    return env_dir


def _site_packages(env_dir: Path) -> Path:
    (found,) = env_dir.glob("lib/python3*/site-packages")
    return found


def test_installs_one_namespace_and_no_generic_top_level_packages(installed):
    site = _site_packages(installed)
    top = {p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"}
    assert "drivers" not in top and "receipts" not in top
    assert top == {"mpos_cli"}
    assert (site / "mpos_cli" / "drivers" / "neo2" / "frame.py").is_file()
    assert (site / "mpos_cli" / "receipts" / "render" / "escpos_bytes.py").is_file()
    entry_points = next(site.glob("mpos-*.dist-info")).joinpath("entry_points.txt").read_text()
    assert "mpos_cli.drivers.sim.reader:SimulatedReader" in entry_points


@pytest.mark.skipif(shutil.which("man") is None, reason="man(1) is not installed")
def test_man_mpos_opens_the_installed_page(installed):
    # man(1) derives its search path from PATH: <venv>/bin -> <venv>/share/man.
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH",)}
    env["PATH"] = f"{installed / 'bin'}:/usr/bin:/bin"
    where = subprocess.run(["man", "-w", "mpos"], env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == installed / "share" / "man" / "man1" / "mpos.1"
    for page in ("mpos-charge", "mpos.toml", "mpos-reader-protocol"):
        assert subprocess.run(["man", "-w", page], env=env, capture_output=True).returncode == 0, page


def test_every_package_folder_is_listed_in_pyproject():
    """The package list is explicit (package-dir mapping needs it): a new
    folder that is not listed would be missing from every installed copy."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top in ("mpos_cli", "drivers", "receipts"):
        for init in (REPO / top).rglob("__init__.py"):
            name = ".".join(init.parent.relative_to(REPO).parts)
            found.add(name if top == "mpos_cli" else f"mpos_cli.{name}")
    assert found == listed
