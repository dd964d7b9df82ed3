"""The item catalogue and the basket: what the trader sells, and one sale's lines.

The catalogue lives in ``<data>/catalogue/`` on the journal's own storage
(tinydb over ``mpos_cli.journal.storage.MonthStorage``: append-only,
checksummed segments, one ``write`` and one ``fsync`` per change, under a
``flock``): one partition named ``items`` (``items.000001.log``). An ``items
add`` cut short by a crash or a power cut leaves the catalogue as it was; a
damaged catalogue is refused (exit 8), never overwritten.

Names are unique without regard to case (``Mat`` and ``MAT`` are one item)
and are kept as first typed. Prices are integer minor units of the item's
ISO 4217 currency; a VAT rate is kept exactly, in basis points (hundredths of
a percent: 20 % is 2000, 5.5 % is 550), and is the VAT *included* in the price.

``Basket`` is a sale's lines (catalogue items and custom amounts): the till
builds one key by key, ``mpos charge --item NAME*QTY`` builds one from the
command line (``basket_for_charge``). Its ``items()`` are the ``LineItem``\\ s
a transaction keeps (SPEC §5 ``items``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mpos_cli.closing import ClosedOnExit
from mpos_cli.errors import UsageError
from mpos_cli.money import Currency, MAX_MINOR, format_basis_points, to_decimal_string
from mpos_cli.transaction import LineItem

PARTITION = "items"
TABLE = "items"
MAX_NAME = 48
MAX_QUANTITY = 9999
CUSTOM_AMOUNT = "Custom amount"  # the line a free amount makes in the till's basket


@dataclass(frozen=True)
class CatalogueItem:
    name: str
    unit_minor: int
    currency: str
    vat_basis_points: int | None = None

    def to_public(self) -> dict[str, Any]:
        from mpos_cli.money import currency

        return {
            "name": self.name,
            "unit_minor": self.unit_minor,
            "price": to_decimal_string(self.unit_minor, currency(self.currency)),
            "currency": self.currency,
            "vat_basis_points": self.vat_basis_points,
            "vat_percent": None if self.vat_basis_points is None else format_basis_points(self.vat_basis_points),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "CatalogueItem":
        return cls(record["name"], int(record["unit_minor"]), record["currency"], record.get("vat_basis_points"))

    def line(self, quantity: int = 1) -> LineItem:
        return LineItem(self.name, quantity, self.unit_minor, self.vat_basis_points)


def clean_name(text: str) -> str:
    """An item name as kept: spaces collapsed; refused when empty, too long,
    holding control characters or ``*`` (which ``--item NAME*QTY`` reserves)."""
    name = " ".join((text or "").split())
    if not name:
        raise UsageError("an item needs a name", hint='e.g. mpos items add "Yoga class" 12')
    if len(name) > MAX_NAME:
        raise UsageError(f"item name too long ({len(name)} characters)", hint=f"at most {MAX_NAME}")
    if "*" in name:
        raise UsageError(f"an item name cannot contain '*': {name!r}", hint="'*' separates the quantity: NAME*QTY")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise UsageError(f"an item name cannot contain control characters: {name!r}")
    return name


def name_key(name: str) -> str:
    """The name as compared: case and width folded (``Mat`` is ``MAT``)."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def parse_item_spec(text: str) -> tuple[str, int]:
    """``"Mat*2"`` → ``("Mat", 2)``; ``"Yoga class"`` → ``("Yoga class", 1)``."""
    name, star, quantity = (text or "").rpartition("*")
    if not star:
        return " ".join(text.split()), 1
    quantity = quantity.strip()
    if not quantity.isascii() or not quantity.isdigit() or not 1 <= int(quantity) <= MAX_QUANTITY:
        raise UsageError(
            f"bad quantity in --item {text!r}", hint=f"NAME*QTY with QTY a whole number from 1 to {MAX_QUANTITY}"
        )
    return " ".join(name.split()), int(quantity)


class Catalogue(ClosedOnExit):
    """The items on sale, in the order they were added (the till's quick keys)."""

    def __init__(self, directory: Path, *, lock_timeout: float = 10.0) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self._db = None
        self._lock = None

    @classmethod
    def of(cls, env) -> "Catalogue":
        return cls(env.data_dir / "catalogue", lock_timeout=env.config["journal.lock_timeout"])

    def _table(self, *, create: bool):
        """The tinydb table, or None when there is no catalogue yet and
        ``create`` is False (reading never creates files)."""
        if self._db is None:
            from mpos_cli.journal.fileops import FileOps
            from mpos_cli.journal.lock import JournalLock
            from mpos_cli.journal.storage import JournalDB, MonthStorage

            from mpos_cli.storage_util import ensure_dir

            if not create and not self.directory.is_dir():
                return None
            ensure_dir(self.directory.parent)  # the home, 0700 like every folder of it
            ops = FileOps()
            ops.mkdir(self.directory)
            self._lock = JournalLock(self.directory / "LOCK", self.lock_timeout, ops)
            self._db = JournalDB(self.directory, PARTITION, storage=MonthStorage, ops=ops, lock=self._lock)
        return self._db.table(TABLE)

    def items(self) -> list[CatalogueItem]:
        table = self._table(create=False)
        if table is None:
            return []
        return [CatalogueItem.from_record(doc) for doc in sorted(table, key=lambda d: d.doc_id)]

    def find(self, name: str) -> CatalogueItem | None:
        key = name_key(name)
        return next((item for item in self.items() if name_key(item.name) == key), None)

    def get(self, name: str) -> CatalogueItem:
        item = self.find(name)
        if item is None:
            raise UsageError(f"no item {name!r} in the catalogue", hint="see mpos items list")
        return item

    def add(self, name: str, unit_minor: int, currency: Currency, vat_basis_points: int | None = None) -> CatalogueItem:
        name = clean_name(name)
        if not 0 < unit_minor <= MAX_MINOR:
            raise UsageError(f"a price must be more than zero: {unit_minor}")
        item = CatalogueItem(name, unit_minor, currency.code, vat_basis_points)
        table = self._table(create=True)
        with self._lock:
            if any(name_key(doc["name"]) == name_key(name) for doc in table):
                raise UsageError(
                    f"there is already an item {self.get(name).name!r}",
                    hint="names are unique whatever their case; mpos items remove it first to change it",
                )
            table.insert({"name": item.name, "unit_minor": item.unit_minor, "currency": item.currency,
                          "vat_basis_points": item.vat_basis_points})
        return item

    def remove(self, name: str) -> CatalogueItem:
        table = self._table(create=False)
        key = name_key(name)
        if table is not None:
            with self._lock:
                for doc in table:
                    if name_key(doc["name"]) == key:
                        table.remove(doc_ids=[doc.doc_id])
                        return CatalogueItem.from_record(doc)
        raise UsageError(f"no item {name!r} in the catalogue", hint="see mpos items list")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None


@dataclass
class Basket:
    """A sale's lines in one currency; the same item twice is one line."""

    currency: Currency
    lines: list[LineItem] = field(default_factory=list)

    def add(self, line: LineItem) -> None:
        for index, existing in enumerate(self.lines):
            if (name_key(existing.name), existing.unit_minor, existing.vat_basis_points) == (
                name_key(line.name), line.unit_minor, line.vat_basis_points
            ):
                quantity = min(existing.quantity + line.quantity, MAX_QUANTITY)
                self.lines[index] = LineItem(existing.name, quantity, existing.unit_minor, existing.vat_basis_points)
                return
        self.lines.append(line)

    def add_item(self, item: CatalogueItem, quantity: int = 1) -> None:
        if item.currency != self.currency.code:
            raise UsageError(
                f"{item.name} is priced in {item.currency}, the sale is in {self.currency.code}",
                hint=f"use --currency {item.currency}, or sell items of one currency per sale",
            )
        self.add(item.line(quantity))

    def remove_one(self, index: int) -> None:
        """One less of line ``index``; the line goes when none is left."""
        line = self.lines[index]
        if line.quantity > 1:
            self.lines[index] = LineItem(line.name, line.quantity - 1, line.unit_minor, line.vat_basis_points)
        else:
            del self.lines[index]

    def clear(self) -> None:
        self.lines.clear()

    @property
    def total_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def items(self) -> tuple[LineItem, ...]:
        return tuple(self.lines)

    def __bool__(self) -> bool:
        return bool(self.lines)


def basket_for_charge(catalogue: Catalogue, specs: Iterable[str], cur: Currency, amount_minor: int | None) -> Basket:
    """The basket of ``mpos charge --item NAME[*QTY]...``: every item from the
    catalogue, in the sale's currency; ``amount_minor``, when given, must be
    the items' sum (SPEC §3). Raises ``UsageError`` before anything is written."""
    basket = Basket(cur)
    for spec in specs:
        name, quantity = parse_item_spec(spec)
        basket.add_item(catalogue.get(name), quantity)
    if basket.total_minor > MAX_MINOR:
        raise UsageError("the items add up to more than a payment can carry")
    if amount_minor is not None and amount_minor != basket.total_minor:
        raise UsageError(
            f"the amount {to_decimal_string(amount_minor, cur)} is not the items' sum "
            f"{to_decimal_string(basket.total_minor, cur)} {cur.code}",
            hint="leave AMOUNT out to charge the items' sum",
        )
    return basket
