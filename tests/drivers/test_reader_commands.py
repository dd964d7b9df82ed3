"""mpos reader use / status with the simulated reader."""

from __future__ import annotations


def test_status_of_the_simulated_reader(mpos):
    result = mpos("reader", "status", "--json")
    assert result.exit_code == 0, result
    status = result.json()
    assert status["connected"] and status["transport"] == "memory" and status["firmware"] == "NEO2-SIM 1.0"


def test_use_saves_a_ble_reader_and_refuses_nonsense(mpos, isolated_home):
    assert mpos("reader", "use", "ble:counter-2").exit_code == 0
    assert "ble:counter-2" in (isolated_home / "config.toml").read_text()
    refused = mpos("reader", "use", "carrier-pigeon")
    assert refused.exit_code == 2 and "carrier-pigeon" in refused.stderr
    assert "carrier-pigeon" not in (isolated_home / "config.toml").read_text()


def test_simulate_without_ble_is_a_usage_error(mpos):
    result = mpos("reader", "simulate")
    assert result.exit_code == 2 and "--ble" in result.stderr
