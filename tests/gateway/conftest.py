"""Fixtures for the gateway tests: a real sandbox acquirer on loopback and an
HttpGateway pointed at it."""

from __future__ import annotations

import pytest

from tests.gateway.gateway_helpers import Sandbox


@pytest.fixture
def sandbox(tmp_path):
    server = Sandbox(tmp_path / "data")
    yield server
    server.close()


@pytest.fixture
def gateway(sandbox):
    return sandbox.gateway()
