"""``mpos till``: a full-screen till for sale after sale (Textual).

The screen only shows and asks; the engine (``mpos_cli.till.engine``) holds
the point of sale and runs every sale through the payment flow. Keyboard
only:

- ``1``–``9`` add the quick key of that number (``PgDn``/``PgUp`` turn the
  page when there are more than nine items), ``0`` a custom amount;
- ``↑``/``↓`` pick a line of the basket, ``+``/``-`` one more or one less of
  it, ``x`` clears the basket, ``t`` chooses the tip;
- ``Enter`` pays by card; the payment's steps show as they happen, then its
  outcome and the receipt; ``Enter`` again starts the next sale;
- ``s`` (simulated reader only) picks what the simulated customer does;
  ``r`` reconnects the reader;
- ``q`` quits when no payment is under way (asking first when a basket is
  open); Ctrl-C during a payment follows SPEC §9 (before the card is read:
  cancelled at the reader; after: finished, and its true outcome shown), and
  with nothing under way quits with status 130.

Colours follow ``NO_COLOR`` (Textual turns the screen monochrome); meaning
never rests on colour alone: outcomes are words, the selected line is
marked with ``▶``.
"""

from __future__ import annotations

import asyncio

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from mpos_cli.catalogue import CUSTOM_AMOUNT, Basket
from mpos_cli.money import currency, format_money, parse_amount, percent_of
from mpos_cli.till.engine import Progress, ReaderState, SaleOutcome, Takings, TillEngine
from mpos_cli.transaction import LineItem

KEYS_PER_PAGE = 9
TIP_CHOICES = (0, 500, 1000, 1500, 2000)  # basis points: none, 5 %, 10 %, 15 %, 20 %
KEY_WIDTH = 24
SIM_SCENARIOS = ("contactless", "chip", "swipe", "removed", "no-card", "offline-decline")
MONEY_TAKEN = ("approved", "offline")
# Sales that end the basket: money taken, or a QR payment journaled pending
# (paid when the bank statement shows it: mpos bank import).
SALE_DONE = MONEY_TAKEN + ("pending",)

CSS = """
Screen { layout: vertical; }
#title { height: 1; background: $primary; color: $text; padding: 0 1; text-style: bold; }
#body { height: 1fr; }
#main { width: 1fr; padding: 0 1; }
#keys { height: auto; margin-bottom: 1; }
#basket { height: 1fr; }
#status { height: auto; min-height: 1; }
SidePanel { width: 28; padding: 0 1; border-left: vkey $secondary; }
#pay-main { width: 1fr; padding: 0 1; }
#pay-steps { height: auto; margin-bottom: 1; }
#receipt-box { height: 1fr; }
ModalScreen { align: center middle; }
#dialog { width: 60; height: auto; border: round $primary; padding: 1 2; background: $surface; }
"""


class EngineEvent(Message):
    """Something the engine said, from its own thread."""

    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event


class SidePanel(Static):
    """Today's takings and the reader's state."""

    def on_mount(self) -> None:
        self.update_from(self.app)

    def update_from(self, till: "TillApp") -> None:
        text = Text()
        text.append("Today\n", style="bold")
        takings = till.takings
        if takings is None:
            text.append("…\n")
        else:
            text.append(f"{takings.business_date}\n")
            text.append(f"Sales     {takings.sales_count}\n")
            text.append(f"Taken     {till.money(takings.net_minor)}\n")
            text.append(f"Declined  {takings.declines_count}\n")
        text.append("\nReader\n", style="bold")
        reader = till.reader_state
        text.append(f"{reader.name}\n")
        if reader.connected:
            text.append("● connected\n", style="green")
            if reader.battery_percent is not None:
                text.append(f"Battery   {reader.battery_percent}%\n")
        else:
            text.append("○ not connected\n", style="bold red")
            if reader.why:
                text.append(f"{reader.why}\n", style="italic")
        if till.engine.is_sim:
            text.append(f"\nSimulated card\n{till.scenario}\n", style="dim")
        text.append("\nAcquirer\n", style="bold")
        text.append("SANDBOX\n" if till.engine.sandbox else "live\n")
        self.update(text)


class SaleScreen(Screen):
    """The catalogue as quick keys, the basket, and the keys that act on them."""

    BINDINGS = [
        Binding("enter", "pay", "Pay"),
        Binding("p", "pay_qr", "QR"),
        Binding("0", "custom_amount", "Amount"),
        Binding("t", "tip", "Tip"),
        Binding("plus,equals_sign", "more", "+1", show=False),
        Binding("minus,backspace", "less", "−1"),
        Binding("up", "select(-1)", "Up", show=False),
        Binding("down", "select(1)", "Down", show=False),
        Binding("pagedown,right_square_bracket", "page(1)", "More keys", show=False),
        Binding("pageup,left_square_bracket", "page(-1)", "Back", show=False),
        Binding("x", "clear", "Clear"),
        Binding("s", "scenario", "Card", show=False),
        Binding("r", "reconnect", "Reconnect", show=False),
        Binding("q", "quit_till", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield Static(id="keys")
                yield Static(id="basket")
                yield Static(id="status")
            yield SidePanel()
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_all()

    def on_screen_resume(self) -> None:
        self.refresh_all()

    def on_resize(self) -> None:
        self.refresh_keys()

    @property
    def till(self) -> "TillApp":
        return self.app  # type: ignore[return-value]

    def refresh_all(self) -> None:
        self.query_one("#title", Static).update(self.till.title_text())
        self.refresh_keys()
        self.refresh_basket()
        self.query_one(SidePanel).update_from(self.till)
        self.query_one("#status", Static).update(self.till.status)

    def refresh_keys(self) -> None:
        till = self.till
        items = till.page_items()
        width = max(self.query_one("#keys").size.width, KEY_WIDTH)
        columns = max(1, min(3, width // KEY_WIDTH))
        grid = Table.grid(padding=(0, 1))
        for _ in range(columns):
            grid.add_column(width=KEY_WIDTH - 1, no_wrap=True, overflow="ellipsis")
        cells = []
        for number, item in enumerate(items, 1):
            cell = Text()
            cell.append(f" {number} ", style="bold reverse")
            price = till.money(item.unit_minor)
            name_room = KEY_WIDTH - 1 - 4 - len(price) - 1
            name = item.name if len(item.name) <= name_room else item.name[: max(name_room - 1, 1)] + "…"
            cell.append(f" {name.ljust(name_room)} {price}")
            cells.append(cell)
        if not till.items:
            cells.append(Text('No items yet: mpos items add "Yoga class" 12', style="italic"))
        for start in range(0, len(cells), columns):
            row = cells[start : start + columns]
            grid.add_row(*row, *([""] * (columns - len(row))))
        footer = Text(" 0 ", style="bold reverse")
        footer.append(" custom amount")
        if till.pages > 1:
            footer.append(f"   page {till.page + 1}/{till.pages} (PgDn/PgUp)", style="dim")
        grid.add_row(footer, *([""] * (columns - 1)))
        self.query_one("#keys", Static).update(grid)

    def refresh_basket(self) -> None:
        till = self.till
        basket = till.basket
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(width=1)
        table.add_column(justify="right", width=4)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True)
        if not basket:
            table.add_row("", "", Text("The basket is empty: press a number to add an item.", style="dim"), "")
        for index, line in enumerate(basket.lines):
            chosen = index == till.selected
            style = "reverse" if chosen else ""
            unit = f" @ {till.money(line.unit_minor)}" if line.quantity > 1 else ""
            table.add_row("▶" if chosen else "", Text(f"{line.quantity}×", style=style),
                          Text(f"{line.name}{unit}", style=style), Text(till.money(line.total_minor), style=style))
        tip = till.tip_minor()
        if tip:
            table.add_row("", "", Text(f"Tip {till.tip_label()}"), till.money(tip))
        total = Text(till.money(basket.total_minor + tip), style="bold")
        table.add_row("", "", Text(f"TOTAL ({basket.count} item{'s' if basket.count != 1 else ''})" if basket else "TOTAL", style="bold"), total)
        self.query_one("#basket", Static).update(table)

    def say(self, text: str) -> None:
        self.till.status = text
        self.query_one("#status", Static).update(text)

    # -- keys ------------------------------------------------------------------------------

    def on_key(self, event) -> None:
        if event.character and event.character in "123456789":
            event.stop()
            self.add_quick_key(int(event.character))

    def add_quick_key(self, number: int) -> None:
        items = self.till.page_items()
        if number > len(items):
            self.say(f"No quick key {number}.")
            self.app.bell()
            return
        item = items[number - 1]
        self.till.basket.add_item(item)
        self.till.selected = next(i for i, line in enumerate(self.till.basket.lines) if line.name == item.name)
        self.say(f"Added {item.name}.")
        self.refresh_basket()

    def action_select(self, step: int) -> None:
        if self.till.basket:
            self.till.selected = (self.till.selected + step) % len(self.till.basket.lines)
            self.refresh_basket()

    def action_more(self) -> None:
        till = self.till
        if till.basket:
            line = till.basket.lines[till.selected]
            till.basket.add(LineItem(line.name, 1, line.unit_minor, line.vat_basis_points))
            self.refresh_basket()

    def action_less(self) -> None:
        till = self.till
        if till.basket:
            till.basket.remove_one(till.selected)
            till.selected = min(till.selected, max(len(till.basket.lines) - 1, 0))
            self.refresh_basket()

    def action_page(self, step: int) -> None:
        till = self.till
        till.page = (till.page + step) % till.pages
        self.refresh_keys()

    def action_clear(self) -> None:
        if self.till.basket:
            def cleared(yes: bool | None) -> None:
                if yes:
                    self.till.new_sale()
                    self.refresh_all()

            self.app.push_screen(Dialog("Clear the basket? (y/n)"), cleared)

    def action_custom_amount(self) -> None:
        def added(minor: int | None) -> None:
            if minor:
                self.till.basket.add(LineItem(CUSTOM_AMOUNT, 1, minor))
                self.till.selected = len(self.till.basket.lines) - 1
                self.refresh_basket()

        self.app.push_screen(AmountScreen(self.till.cur, self.till.locale), added)

    def action_tip(self) -> None:
        def chosen(points: int | None) -> None:
            if points is not None:
                self.till.tip_points = points
                self.refresh_basket()

        self.app.push_screen(TipScreen(self.till), chosen)

    def action_scenario(self) -> None:
        till = self.till
        if till.engine.is_sim:
            till.scenario = SIM_SCENARIOS[(SIM_SCENARIOS.index(till.scenario) + 1) % len(SIM_SCENARIOS)]
            self.say(f"The simulated customer: {till.scenario}.")
            self.query_one(SidePanel).update_from(till)

    def action_reconnect(self) -> None:
        self.say("Reconnecting to the reader…")
        self.till.reconnect()

    def action_pay(self) -> None:
        self.till.pay()

    def action_pay_qr(self) -> None:
        self.till.pay(method="qr")

    def action_quit_till(self) -> None:
        if not self.till.basket:
            self.app.exit(return_code=0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.exit(return_code=0)

        self.app.push_screen(Dialog("A basket is open. Quit and drop it? (y/n)"), answered)


class PaymentScreen(Screen):
    """One payment: its steps as they happen, then its outcome and receipt."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "next_sale", "Next sale"),
        Binding("q", "quit_till", "Quit", show=False),
    ]

    def __init__(self, total_text: str, kind: str = "Card payment") -> None:
        super().__init__()
        self.total_text = total_text
        self.kind = kind
        self.steps: list[str] = []
        self.outcome: SaleOutcome | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with Horizontal(id="body"):
            with Vertical(id="pay-main"):
                yield Static(id="pay-steps")
                with VerticalScroll(id="receipt-box"):
                    yield Static(id="receipt")
            yield SidePanel()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#title", Static).update(self.app.title_text())
        self.show_steps()

    def step(self, text: str) -> None:
        self.steps.append(text)
        self.show_steps()

    def show_steps(self) -> None:
        text = Text()
        text.append(f"{self.kind}  {self.total_text}\n", style="bold")
        for index, step in enumerate(self.steps):
            last = index == len(self.steps) - 1 and self.outcome is None
            text.append(("▶ " if last else "✓ ") + step + "\n", style="bold" if last else "dim")
        if self.outcome is not None:
            tone = "bold green" if self.outcome.status in SALE_DONE else "bold red"
            text.append("\n" + self.outcome.message + "\n", style=tone)
            text.append("Enter: next sale" if self.outcome.status in SALE_DONE else
                        "Enter: back to the basket (kept) to try again", style="italic")
        else:
            text.append("Esc or Ctrl-C cancels until the card is read", style="italic dim")
        self.query_one("#pay-steps", Static).update(text)

    def show_outcome(self, outcome: SaleOutcome, receipt) -> None:
        self.outcome = outcome
        self.show_steps()
        if receipt is not None:
            self.query_one("#receipt", Static).update(receipt)

    def action_cancel(self) -> None:
        if self.outcome is None:
            self.app.interrupt_payment()
        else:
            self.action_next_sale()

    def action_next_sale(self) -> None:
        if self.outcome is not None:
            self.app.end_payment(self.outcome)

    def action_quit_till(self) -> None:
        if self.outcome is None:
            self.step("A payment is under way: it finishes first (Esc cancels it until the card is read).")
        else:
            self.app.end_payment(self.outcome)
            self.app.screen.action_quit_till()


class Dialog(ModalScreen[bool]):
    """A yes/no question."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AmountScreen(ModalScreen[int | None]):
    """A custom amount, typed as people type money."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, cur, locale: str) -> None:
        super().__init__()
        self.cur = cur
        self.locale = locale

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Custom amount ({self.cur.code}), then Enter; Esc cancels")
            yield Input(placeholder="12.50", id="amount")
            yield Static(id="amount-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from mpos_cli.errors import UsageError

        try:
            minor = parse_amount(event.value, self.cur, locale=self.locale)
        except UsageError as exc:
            self.query_one("#amount-error", Static).update(Text(exc.one_line(), style="bold red"))
            return
        self.dismiss(minor)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TipScreen(ModalScreen[int | None]):
    """The tip, as a share of the basket."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, till: "TillApp") -> None:
        super().__init__()
        self.till = till

    def compose(self) -> ComposeResult:
        text = Text("Tip (press a number, Esc to keep it as it is)\n\n")
        base = self.till.basket.total_minor
        for number, points in enumerate(TIP_CHOICES):
            label = "No tip" if points == 0 else f"{points // 100}%"
            text.append(f" {number} ", style="bold reverse")
            text.append(f" {label:<8} {self.till.money(percent_of(base, points))}\n")
        with Vertical(id="dialog"):
            yield Static(text)

    def on_key(self, event) -> None:
        if event.character and event.character.isdigit() and int(event.character) < len(TIP_CHOICES):
            event.stop()
            self.dismiss(TIP_CHOICES[int(event.character)])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TillApp(App):
    """The till. ``engine`` may be handed in (tests); else one is built on ``env``."""

    CSS = CSS
    TITLE = "mpos till"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "interrupt", "Interrupt", show=False, priority=True)]

    def __init__(self, env, *, engine: TillEngine | None = None) -> None:
        super().__init__()
        self.env = env
        self.locale = env.config["locale"]
        self.cur = currency(env.config["currency"])
        self.engine = engine or TillEngine(env, self.post_message_from_engine)
        if engine is not None:
            engine.on_event = self.post_message_from_engine
        self.items: list = []
        self.page = 0
        self.basket = Basket(self.cur)
        self.selected = 0
        self.tip_points = 0
        self.scenario = SIM_SCENARIOS[0]
        self.takings: Takings | None = None
        self.reader_state: ReaderState = self.engine.reader_state
        self.status = "Starting…"
        self.payment: PaymentScreen | None = None
        self.failure: BaseException | None = None  # a start-up failure, re-raised by run_till
        self.ready = asyncio.Event()

    # -- engine ---------------------------------------------------------------------------

    def post_message_from_engine(self, event: object) -> None:
        self.post_message(EngineEvent(event))

    async def on_mount(self) -> None:
        self.push_screen(SaleScreen())
        self.run_worker(self.start_engine(), group="start")

    async def start_engine(self) -> None:
        try:
            self.items = await asyncio.wrap_future(self.engine.start())
        except Exception as exc:  # journal locked, bad config, acquirer refusing: one line, and out
            self.failure = exc
            self.exit(return_code=1)
            return
        self.status = "Ready." if self.items else "Ready: add items with mpos items add, or press 0 for an amount."
        self.ready.set()
        if isinstance(self.screen, SaleScreen):
            self.screen.refresh_all()

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, Progress):
            if self.payment is not None and self.payment.outcome is None:
                self.payment.step(event.text)
            else:
                self.status = event.text
            return
        if isinstance(event, Takings):
            self.takings = event
        elif isinstance(event, ReaderState):
            self.reader_state = event
        for panel in self.screen.query(SidePanel):
            panel.update_from(self)

    # -- the sale ---------------------------------------------------------------------------

    def money(self, minor: int) -> str:
        return format_money(minor, self.cur, self.locale)

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.items) // KEYS_PER_PAGE))

    def page_items(self) -> list:
        return self.items[self.page * KEYS_PER_PAGE : (self.page + 1) * KEYS_PER_PAGE]

    def tip_minor(self) -> int:
        return percent_of(self.basket.total_minor, self.tip_points)

    def tip_label(self) -> str:
        return f"{self.tip_points // 100}%"

    def title_text(self) -> Text:
        text = Text("mpos till")
        if self.engine.sandbox:
            text.append("  SANDBOX", style="bold reverse")
        text.append(f"  {self.cur.code}")
        return text

    def new_sale(self) -> None:
        self.basket = Basket(self.cur)
        self.selected = 0
        self.tip_points = 0

    def pay(self, method: str = "card") -> None:
        from mpos_cli.transaction import SaleRequest

        if not self.ready.is_set():
            self.screen.say("Still starting: one moment.")
            return
        if not self.basket:
            self.screen.say("The basket is empty: add an item or an amount first.")
            self.bell()
            return
        request = SaleRequest(
            amount_minor=self.basket.total_minor, tip_minor=self.tip_minor(), currency=self.cur,
            scenario=self.scenario if self.engine.is_sim else None,
            offline=self.env.config["offline.mode"], items=self.basket.items(),
        )
        self.payment = PaymentScreen(self.money(request.amount_minor + request.tip_minor),
                                     kind="QR payment" if method == "qr" else "Card payment")
        self.push_screen(self.payment)
        if method == "qr":
            self.run_worker(self.run_sale(self.engine.pay_qr(request), self.payment), group="sale")
            return
        self.run_worker(self.run_sale(self.engine.pay(request), self.payment), group="sale")

    async def run_sale(self, future, screen: PaymentScreen) -> None:
        # Shielded: if the screen goes away (its workers are cancelled), the
        # sale is not cut off mid-flow; the engine's close decides (SPEC §9).
        outcome = await asyncio.shield(asyncio.wrap_future(future))
        receipt = None
        if outcome.transaction is not None:
            from mpos_cli.receipts import build_receipt, render

            model = build_receipt(outcome.transaction, copy="customer", locale=self.locale, **self.engine.pos.merchant)
            receipt = render(model, "rich")
            if outcome.transaction.method == "qr":
                from rich.console import Group
                from rich.text import Text as RichText

                from mpos_cli.qr import Drawing

                # The code itself, in half blocks, for the customer's phone.
                receipt = Group(RichText(Drawing(outcome.transaction.qr["payload"]).terminal_text()), receipt)
        screen.show_outcome(outcome, receipt)

    def interrupt_payment(self) -> None:
        self.run_worker(self.ask_to_interrupt(), group="interrupt")

    async def ask_to_interrupt(self) -> None:
        answer = await asyncio.wrap_future(self.engine.interrupt())
        if self.payment is None or self.payment.outcome is not None:
            return
        if answer == "cancelling":
            self.payment.step("Cancelling at the reader…")
        elif answer == "finishing":
            self.payment.step("The authorisation has left: finishing the payment to show its true outcome…")

    def end_payment(self, outcome: SaleOutcome) -> None:
        if outcome.status in SALE_DONE:
            self.new_sale()
            self.status = f"{outcome.message}. Next sale."
        else:
            self.status = f"{outcome.message}. The basket is kept: Enter tries again."
        self.payment = None
        self.pop_screen()

    def reconnect(self) -> None:
        async def again() -> None:
            await asyncio.wrap_future(self.engine.reconnect())

        self.run_worker(again(), group="reader")

    def action_interrupt(self) -> None:
        """Ctrl-C (SPEC §9): during a payment, cancel it before the card is
        read or let it finish after; with nothing under way, quit (130)."""
        if self.payment is not None and self.payment.outcome is None:
            self.interrupt_payment()
            return
        self.exit(return_code=130)


def run_till(env) -> int:
    """Run the till on the terminal; its exit status (0 quit, 130 Ctrl-C)."""
    app = TillApp(env)
    try:
        code = app.run()
    finally:
        app.engine.close()
    if app.failure is not None:
        raise app.failure
    return app.return_code if app.return_code is not None else (code or 0)
