"""The till under test: a real engine (sim reader, embedded sandbox acquirer,
journal in the test's home) driven through Textual's pilot."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import datetime, timezone

import pytest

from mpos_cli.drivers.sim.reader import SimulatedReader

FIXED_NOW = datetime(2026, 11, 24, 14, 3, 7, tzinfo=timezone.utc)


class SlowCustomer(SimulatedReader):
    """The simulated reader with a customer who taps only when ``tap`` is
    set, and a card that answers the issuer only when ``confirm`` is set
    (threading events: the test sets them from its own thread)."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.tap = threading.Event()
        self.confirm = threading.Event()
        self.confirm.set()

    async def start_transaction(self, request):
        while not self.tap.is_set():
            await asyncio.sleep(0.01)
        return await super().start_transaction(request)

    async def complete(self, response):
        while not self.confirm.is_set():
            await asyncio.sleep(0.01)
        return await super().complete(response)


@pytest.fixture
def catalogue(mpos):
    for args in (("Yoga class", "12", "--vat", "20"), ("Mat", "3"), ("Drink", "2.50"), ("Bad luck", "10.05")):
        assert mpos("items", "add", *args).exit_code == 0
    return mpos


@pytest.fixture
def till_env(isolated_home):
    from mpos_cli.env import Environment

    def build(clock=None):
        return Environment(environ=dict(os.environ), clock=clock)

    return build


@pytest.fixture
def make_till(till_env):
    """``make_till(reader=None, clock=None)`` → a TillApp on a real engine."""
    from mpos_cli.till.app import TillApp
    from mpos_cli.till.engine import TillEngine

    made = []

    def build(reader=None, clock=None):
        env = till_env(clock)
        factory = None if reader is None else (lambda: reader)
        engine = TillEngine(env, lambda event: None, reader_factory=factory)
        app = TillApp(env, engine=engine)
        made.append(engine)
        return app

    yield build
    for engine in made:
        engine.close()


async def until(pilot, condition, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


def drive(app, scenario, *, size: tuple[int, int] = (80, 24)):
    """Run ``scenario(pilot)`` on ``app`` in a ``size`` terminal; what it returns."""

    async def run():
        async with app.run_test(size=size) as pilot:
            return await scenario(pilot)

    return asyncio.run(run())


def screen_text(app) -> str:
    """What the screen shows, as plain text (Textual's own export)."""
    import html
    import re

    svg = app.export_screenshot()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", svg.split("</style>")[-1])).split())
