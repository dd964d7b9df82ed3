"""Journal tests: helpers live in journal_faults.py, importable from the tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def jdir(tmp_path):
    return tmp_path / "home" / "journal"
