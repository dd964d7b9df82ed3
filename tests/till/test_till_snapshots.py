"""Snapshots of the till's main screens at 80×24 and 120×40 (pytest-textual-snapshot).

The clock is fixed and the home fresh, so every figure on screen is the
same from run to run. After a deliberate change of the layout:
``pytest tests/till/test_till_snapshots.py --snapshot-update`` and review
the SVGs in ``__snapshots__/``.
"""

from __future__ import annotations

import pytest

from tests.till.conftest import FIXED_NOW, SlowCustomer, until

SIZES = [(80, 24), (120, 40)]


async def ready(pilot) -> None:
    await until(pilot, lambda: pilot.app.ready.is_set() and pilot.app.reader_state.connected)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_sale_screen_with_a_basket(catalogue, make_till, snap_compare, size):
    app = make_till(clock=lambda: FIXED_NOW)

    async def basket(pilot):
        await ready(pilot)
        await pilot.press("1", "2", "2", "0")
        await until(pilot, lambda: pilot.app.screen.query("#amount"))
        await pilot.press("4", ".", "2", "0", "enter", "t", "2")

    assert snap_compare(app, terminal_size=size, run_before=basket)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_tip_choice(catalogue, make_till, snap_compare, size):
    app = make_till(clock=lambda: FIXED_NOW)

    async def tip(pilot):
        await ready(pilot)
        await pilot.press("1", "3", "t")

    assert snap_compare(app, terminal_size=size, run_before=tip)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_payment_waiting_for_the_card(catalogue, make_till, snap_compare, size):
    reader = SlowCustomer()
    app = make_till(reader=reader, clock=lambda: FIXED_NOW)

    async def paying(pilot):
        await ready(pilot)
        await pilot.press("1", "2", "enter")
        await until(pilot, lambda: "Present card on the reader" in pilot.app.payment.steps)

    try:
        assert snap_compare(app, terminal_size=size, run_before=paying)
    finally:
        reader.tap.set()


def test_quit_with_an_open_basket_asks_first(catalogue, make_till, snap_compare):
    app = make_till(clock=lambda: FIXED_NOW)

    async def quitting(pilot):
        await ready(pilot)
        await pilot.press("2", "q")

    assert snap_compare(app, terminal_size=(80, 24), run_before=quitting)
