"""Options every command group shares, declared once (sqlite-utils style).

Output: ``--json`` (one JSON document on stdout) and ``--csv``. Dates:
``--date D`` or ``--from D --to D`` (``YYYY-MM-DD``, local business dates).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

Json = Annotated[bool, typer.Option("--json", help="Print JSON: one document on stdout, messages on stderr.")]
Csv = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")]
Date = Annotated[Optional[str], typer.Option("--date", metavar="D", help="One business day: YYYY-MM-DD, today or yesterday.")]
DateFrom = Annotated[Optional[str], typer.Option("--from", metavar="D", help="First business day: YYYY-MM-DD, today or yesterday.")]
DateTo = Annotated[Optional[str], typer.Option("--to", metavar="D", help="Last business day: YYYY-MM-DD, today or yesterday.")]


def _without_flag_placeholders(params: list) -> list:
    # Typer 0.2x shows a flag's type (``--json <bool>``, even ``--help <bool>``)
    # as if it took a value; a flag's empty metavar shows nothing instead.
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FlagHelpCommand(TyperCommand):
    """A command whose help shows flags as flags (set on every command by
    ``mpos_cli.commands.register_all``)."""

    def get_params(self, ctx) -> list:
        return _without_flag_placeholders(super().get_params(ctx))


class FlagHelpGroup(TyperGroup):
    def get_params(self, ctx) -> list:
        return _without_flag_placeholders(super().get_params(ctx))


def output_format(json_: bool, csv_: bool = False) -> str:
    """``json``, ``csv`` or ``human``; both flags at once is a usage error."""
    from mpos_cli.errors import UsageError

    if json_ and csv_:
        raise UsageError("--json and --csv exclude each other")
    return "json" if json_ else "csv" if csv_ else "human"


def date_range(
    date: str | None, date_from: str | None, date_to: str | None, *, today: str | None = None,
) -> tuple[str | None, str | None]:
    """Check ``--date`` / ``--from`` / ``--to`` and return (from, to) as
    YYYY-MM-DD. ``today`` and ``yesterday`` (any case) are the business
    dates relative to ``today`` (the caller's business date, YYYY-MM-DD)."""
    from datetime import date as Day
    from datetime import timedelta

    from mpos_cli.errors import UsageError

    if date and (date_from or date_to):
        raise UsageError("--date excludes --from and --to")
    resolved = []
    for label, value in (("--date", date), ("--from", date_from), ("--to", date_to)):
        if value is not None and value.strip().lower() in ("today", "yesterday"):
            if today is None:
                raise UsageError(f"{label} {value} needs a date here", hint="give it as YYYY-MM-DD")
            day = Day.fromisoformat(today)
            value = (day if value.strip().lower() == "today" else day - timedelta(days=1)).isoformat()
        elif value is not None:
            try:
                Day.fromisoformat(value)
            except ValueError:
                raise UsageError(f"{label} wants a date as YYYY-MM-DD, today or yesterday, not {value!r}") from None
            if len(value) != 10:
                raise UsageError(f"{label} wants a date as YYYY-MM-DD, today or yesterday, not {value!r}")
        resolved.append(value)
    date, date_from, date_to = resolved
    if date:
        return date, date
    if date_from and date_to and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}")
    return date_from, date_to


AllTerminals = Annotated[
    bool,
    typer.Option(
        "--all-terminals",
        help="The whole business: this terminal and every other one, from the hub (or the local copy when it is away).",
    ),
]
