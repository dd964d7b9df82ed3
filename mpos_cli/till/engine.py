"""The till's engine: one point of sale kept open from sale to sale.

``mpos charge`` opens the journal, starts (or reaches) the acquirer and
connects the reader for every sale, then lets go. The till keeps all three:
the reader's connection (sim, Bluetooth LE or serial), the acquirer's HTTP
connection (the ``PointOfSale``'s gateway, an httpx client with keep-alive)
and the journal. Each sale still goes through the one payment flow
(``Payments.charge_on``), the same journal and the same recovery as
``mpos charge``.

Everything that touches the point of sale runs on one thread of its own,
with its own asyncio loop (the reader's connection belongs to that loop;
the journal and the gateway are not shared between threads). The screen
(``mpos_cli.till.app``) calls the thread-safe methods below and hears back
through ``on_event``, from the engine's thread.

Interrupts (SPEC §9): ``interrupt()`` before the card has been handed to
the flow cancels at the reader (the sale is journaled as cancelled, nothing
was sent); once the card is read, the authorisation leaves in the same step
of the loop, so from then on the payment is finished and its true outcome
shown, whatever is pressed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

# Everything the engine's thread will use is imported here, on the thread
# that builds the engine: CPython 3.11 before 3.11.9 can fail to compile
# while another thread compiles too ("AST constructor recursion depth
# mismatch", cpython#106905), and the screen's thread is busy importing.
from mpos_cli import catalogue, journal, payments, pos, reports, startup  # noqa: F401
from mpos_cli.drivers import registry  # noqa: F401
from mpos_cli.drivers.base import Reader
from mpos_cli.drivers.errors import ReaderError, ReaderErrorReason, ReaderTimeout, ReaderUnavailable
from mpos_cli.drivers.sim import reader as sim_reader  # noqa: F401
from mpos_cli.gateway import client, sandbox  # noqa: F401
from mpos_cli.receipts import model  # noqa: F401
from mpos_cli.receipts.render import rich_panel  # noqa: F401

# Reconnecting to a reader that dropped: first try at once, then back off.
RECONNECT_DELAYS_S = (0.0, 1.0, 2.0, 5.0, 10.0)
HEALTH_CHECK_S = 15.0  # while idle, ask the reader how it is this often


class CancelledAtTill(ReaderTimeout):
    """The seller cancelled before the card was read: the flow journals the
    sale as cancelled, as for a card that never came (nothing was sent)."""


@dataclass(frozen=True)
class ReaderState:
    name: str
    connected: bool
    battery_percent: int | None = None
    transport: str | None = None
    why: str | None = None  # why it is not connected, for people


@dataclass(frozen=True)
class Takings:
    """Today's money taken in the till's currency (as ``mpos report`` counts it)."""

    business_date: str
    currency: str
    sales_count: int = 0
    net_minor: int = 0
    declines_count: int = 0


@dataclass(frozen=True)
class Progress:
    """A step of the payment under way, as the flow says it."""

    text: str
    at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class SaleOutcome:
    """How a sale ended: its journaled transaction (when there is one) and
    one line for people."""

    status: str  # approved | offline | declined | cancelled | failed | pending | error
    message: str
    transaction: Any = None


class KeptReader(Reader):
    """A connected reader handed to the payment flow sale after sale; the
    flow neither connects nor closes it. It adds the seller's cancel: while
    the card is awaited, ``request_cancel`` stops the wait and cancels at
    the reader."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.card_handed_over = False
        self._cancel_requested = False
        self._cancel: asyncio.Event | None = None

    def arm(self) -> None:
        """A new sale: nothing cancelled, no card yet."""
        self.card_handed_over = False
        self._cancel_requested = False
        self._cancel = None

    def request_cancel(self) -> bool:
        """Cancel the wait for the card; False once the card was handed over
        (its authorisation leaves without another await)."""
        if self.card_handed_over:
            return False
        self._cancel_requested = True
        if self._cancel is not None:
            self._cancel.set()
        return True

    async def connect(self) -> None:
        await self.reader.connect()

    async def close(self) -> None:
        await self.reader.close()

    async def status(self):
        return await self.reader.status()

    async def start_transaction(self, request):
        self._cancel = asyncio.Event()
        if self._cancel_requested:
            self._cancel.set()
        reading = asyncio.ensure_future(self.reader.start_transaction(request))
        waiting = asyncio.ensure_future(self._cancel.wait())
        try:
            await asyncio.wait({reading, waiting}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            reading.cancel()
            raise
        finally:
            waiting.cancel()
        if self._cancel.is_set():  # the seller's word wins over a card read in the same instant
            if not reading.done():
                reading.cancel()
            try:
                await reading
            except (asyncio.CancelledError, ReaderError):
                pass
            try:
                await self.reader.cancel()
            except ReaderError:
                pass
            raise CancelledAtTill("cancelled at the till before a card was read", reason=ReaderErrorReason.NO_CARD)
        result = reading.result()
        self.card_handed_over = True
        return result

    async def complete(self, response):
        return await self.reader.complete(response)

    async def cancel(self) -> None:
        await self.reader.cancel()

    async def display(self, message: str) -> None:
        await self.reader.display(message)


class TillEngine:
    """The point of sale, the kept reader and the payment flow, on one thread."""

    def __init__(self, env, on_event: Callable[[object], None], *, reader_factory=None) -> None:
        from mpos_cli.pos import PointOfSale

        self.env = env
        self.on_event = on_event
        self.pos = PointOfSale(env)
        self.currency = env.config["currency"]
        self.reader_spec = env.config["reader"]
        self.is_sim = self.reader_spec.split(":", 1)[0].lower() == "sim"
        self._reader_factory = reader_factory or (lambda: self.pos.open_reader(currency=self.currency))
        self.kept: KeptReader | None = None
        self.reader_state = ReaderState(name=self.reader_spec, connected=False, why="not connected yet")
        self.sale_running = False
        self._cancel_asked = False
        self.sandbox = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="mpos-till-engine", daemon=True)
        self._thread.start()
        self._reconnecting: asyncio.Task | None = None
        self._health: asyncio.Task | None = None
        self._sale: asyncio.Task | None = None
        self._closed = False

    # -- the engine's thread ---------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _submit(self, coroutine) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _emit(self, event: object) -> None:
        try:
            self.on_event(event)
        except Exception:  # the screen may be closing; the engine carries on
            pass

    # -- start, stop -------------------------------------------------------------------

    def start(self) -> concurrent.futures.Future:
        """Open the journal and the acquirer, finish what a previous run left
        open (briefly), read the catalogue, connect the reader. The future's
        result is the catalogue's items in the till's currency."""
        return self._submit(self._start())

    async def _start(self):
        from mpos_cli.catalogue import Catalogue
        from mpos_cli.startup import catch_up

        catch_up(self.pos, lambda text: self._emit(Progress(text)))
        self.sandbox = self.pos.gateway.sandbox  # starts the embedded sandbox, or reaches the acquirer
        with Catalogue.of(self.env) as catalogue:
            items = [item for item in catalogue.items() if item.currency == self.currency]
        self._emit(self._takings())
        await self._connect()
        self._health = asyncio.ensure_future(self._watch_reader())
        return items

    def close(self, timeout: float = 120.0) -> None:
        """Let go of the reader, the acquirer and the journal; stop the thread.

        A sale still under way (the screen went away: a crash, a closed
        terminal) is treated as an interrupt (SPEC §9): cancelled if its card
        was not read yet, else finished, before anything is closed."""
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(self._close()).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        if self._sale is not None and not self._sale.done():
            if self.kept is not None:
                self.kept.request_cancel()
            await asyncio.wait({self._sale})
        for task in (self._health, self._reconnecting):
            if task is not None:
                task.cancel()
        if self.kept is not None:
            try:
                await self.kept.close()
            except ReaderError:
                pass
        self.pos.close()

    # -- the reader ----------------------------------------------------------------------

    async def _connect(self) -> bool:
        """Connect (a fresh reader object each time: a dropped Bluetooth link
        is not reused). True when connected."""
        try:
            reader = self._reader_factory()
            await reader.connect()
        except ReaderError as exc:
            from mpos_cli.errors import one_line_of

            self._set_reader(ReaderState(self.reader_spec, False, why=one_line_of(exc)))
            return False
        self.kept = KeptReader(reader)
        await self._refresh_reader_state()
        return True

    async def _refresh_reader_state(self) -> None:
        from mpos_cli.errors import one_line_of

        if self.kept is None:
            return
        try:
            status = await self.kept.status()
        except ReaderError as exc:
            await self._dropped(one_line_of(exc))
            return
        self._set_reader(ReaderState(status.name, status.connected, status.battery_percent, status.transport))

    def _set_reader(self, state: ReaderState) -> None:
        self.reader_state = state
        self._emit(state)

    async def _dropped(self, why: str) -> None:
        """The reader went away: say why, and reconnect in the background."""
        kept, self.kept = self.kept, None
        if kept is not None:
            try:
                await kept.close()
            except ReaderError:
                pass
        self._set_reader(ReaderState(self.reader_state.name, False, why=why))
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while self.kept is None and not self._closed:
            await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
            attempt += 1
            if self.sale_running:
                continue  # a sale connects for itself
            await self._connect()

    async def _watch_reader(self) -> None:
        while not self._closed:
            await asyncio.sleep(HEALTH_CHECK_S)
            if not self.sale_running and self.kept is not None:
                await self._refresh_reader_state()

    def reconnect(self) -> concurrent.futures.Future:
        """Drop the reader's connection and connect again (the seller asked)."""

        async def again() -> bool:
            if self.kept is not None:
                try:
                    await self.kept.close()
                except ReaderError:
                    pass
                self.kept = None
            return await self._connect()

        return self._submit(again())

    # -- a sale --------------------------------------------------------------------------

    def pay(self, request) -> concurrent.futures.Future:
        """Take ``request`` (a ``transaction.SaleRequest``) by card; the future's
        result is a ``SaleOutcome``. Progress comes as ``Progress`` events."""
        self.sale_running = True
        self._cancel_asked = False
        return self._submit(self._pay(request))

    def pay_qr(self, request) -> concurrent.futures.Future:
        """Take ``request`` (a ``transaction.SaleRequest``) as a QR payment:
        journaled pending, its code shown, paid when ``mpos bank import``
        finds the transfer (SPEC §10). No reader, no acquirer."""
        return self._submit(self._pay_qr(request))

    async def _pay_qr(self, request) -> SaleOutcome:
        from mpos_cli import hooks
        from mpos_cli.errors import MposError, one_line_of
        from mpos_cli.money import currency, format_money
        from mpos_cli.qr_payments import start_sale

        notify = lambda step: self._emit(Progress(_step_text(step)))  # noqa: E731
        try:
            await asyncio.to_thread(hooks.pre_charge, self.pos.env, request, notify, method="qr")
            tx = await asyncio.to_thread(start_sale, self.pos, request)
        except MposError as exc:
            return SaleOutcome("error", one_line_of(exc))
        self._post_charge(tx, notify)
        self._emit(self._takings())
        total = format_money(tx.total_minor, currency(tx.currency))
        return SaleOutcome("pending", f"PENDING {total}: scan to pay by bank transfer, reference {tx.qr['reference']}",
                           tx)

    async def _pay(self, request) -> SaleOutcome:
        from mpos_cli import hooks
        from mpos_cli.errors import MposError, PaymentCancelled, PaymentDeclined, one_line_of
        from mpos_cli.payments import Payments

        self._sale = asyncio.current_task()
        try:
            if self.kept is None:
                self._emit(Progress("Connecting to the reader…"))
                if not await self._connect():
                    return SaleOutcome("error", f"reader unavailable: {self.reader_state.why}")
            if self._cancel_asked:
                return SaleOutcome("cancelled", "cancelled at the till before the sale began; nothing was charged")
            kept = self.kept
            kept.arm()
            if self._cancel_asked:
                kept.request_cancel()
            notify = lambda step: self._emit(Progress(_step_text(step)))  # noqa: E731
            try:
                # The pre-charge hook (SPEC §12) may refuse before the reader is asked.
                await asyncio.to_thread(hooks.pre_charge, self.pos.env, request, notify)
            except MposError as exc:
                return SaleOutcome("error", one_line_of(exc))
            payments = Payments(self.pos, notify=notify)
            try:
                tx = await payments.charge_on(kept, request)
            except (PaymentDeclined, PaymentCancelled) as exc:
                tx = exc.transaction
                if tx is None:
                    return SaleOutcome("failed", one_line_of(exc))
                self._post_charge(tx, notify)
                return SaleOutcome(str(tx.status), f"{_outcome_line(tx)}: {one_line_of(exc)}", tx)
            except ReaderUnavailable as exc:
                await self._dropped(one_line_of(exc))
                return SaleOutcome("failed", f"the reader dropped: {one_line_of(exc)}; nothing was charged")
            except (MposError, ReaderError) as exc:
                return SaleOutcome("error", one_line_of(exc))
            self._post_charge(tx, notify)
            return SaleOutcome(str(tx.status), _outcome_line(tx), tx)
        finally:
            self.sale_running = False
            self._emit(self._takings())

    def _post_charge(self, tx, notify) -> None:
        """The post-charge hook, with the sale journaled and its outcome on the
        screen: run beside the till (never holding up the next sale), its
        failure only a notice (SPEC §12)."""
        from mpos_cli import hooks

        asyncio.get_running_loop().run_in_executor(None, hooks.after, self.pos.env, "post-charge", tx, notify)

    def interrupt(self) -> concurrent.futures.Future:
        """Ctrl-C or Esc during a sale. Result: ``"cancelling"`` (the card
        was not read: cancelled at the reader), ``"finishing"`` (the
        authorisation has left or leaves now: the true outcome follows) or
        ``"idle"`` (no sale under way)."""

        async def decide() -> str:
            if not self.sale_running:
                return "idle"
            if self.kept is None or self.kept.request_cancel():
                self._cancel_asked = True
                return "cancelling"
            return "finishing"

        return self._submit(decide())

    # -- the side panel ------------------------------------------------------------------

    def _takings(self) -> Takings:
        from mpos_cli.reports import build_report

        today = self.env.business_date()
        report = build_report(
            self.pos.journal.iter(today, today, None), date_from=today, date_to=today, tz=self.env.timezone,
            generated_at=self.env.now(),
        )
        mine = report.currencies.get(self.currency)
        if mine is None:
            return Takings(today, self.currency)
        return Takings(today, self.currency, mine.totals.sales_count, mine.totals.net_minor, mine.totals.declines_count)


def _outcome_line(tx) -> str:
    from mpos_cli.money import currency, format_money

    amount = format_money(tx.total_minor, currency(tx.currency))
    if str(tx.status) == "offline":
        return f"{amount} stored offline: forwarded when the acquirer is back"
    return f"{str(tx.status).upper()} {amount}"


def _step_text(step) -> str:
    """A step of the flow (a progress event or a notice) as the till shows it:
    the event's plain line, without the command line's Ctrl-C hint (the till
    shows its own keys)."""
    return getattr(step, "text", str(step)).replace(" (Ctrl-C to cancel)", "")
