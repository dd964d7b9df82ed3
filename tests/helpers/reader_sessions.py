"""A card sale through a reader driver, and factory fixtures for reader
simulators, shared by the BLE and serial reader tests."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator, TypeVar

from mpos_cli.drivers.base import TransactionRequest
from tests.drivers.issuer_helpers import host_response

Started = TypeVar("Started")


def sale(amount_minor: int = 1250, scenario: str | None = None) -> TransactionRequest:
    """A EUR sale (currency 978, two decimals) dated now."""
    return TransactionRequest(amount_minor, "978", 2, datetime.now(timezone.utc), scenario=scenario)


async def pay_through(reader, request: TransactionRequest):
    """Open ``reader``, run ``request`` and complete it with the issuer's answer."""
    async with reader:
        result = await reader.start_transaction(request)
        return result, await reader.complete(host_response(result, request.amount_minor))


def start_and_stop(start: Callable[..., Started], stop: Callable[[Started], None]) -> Iterator[Callable[..., Started]]:
    """Body of a factory fixture (``yield from``): hands out ``start`` and
    stops everything it started at teardown."""
    started: list[Started] = []

    def start_one(*args, **kwargs) -> Started:
        thing = start(*args, **kwargs)
        started.append(thing)
        return thing

    yield start_one
    for thing in started:
        stop(thing)
