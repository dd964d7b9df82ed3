"""Options every command group shares, declared once (sqlite-utils style).

Output: ``--json`` (one JSON document on stdout) and ``--csv``. Dates:
``--date D`` or ``--from D --to D`` (``YYYY-MM-DD``, local business dates).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Json = Annotated[bool, typer.Option("--json", help="Print JSON: one document on stdout, messages on stderr.")]
Csv = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")]
Date = Annotated[Optional[str], typer.Option("--date", metavar="D", help="One business day, YYYY-MM-DD.")]
DateFrom = Annotated[Optional[str], typer.Option("--from", metavar="D", help="First business day, YYYY-MM-DD.")]
DateTo = Annotated[Optional[str], typer.Option("--to", metavar="D", help="Last business day, YYYY-MM-DD.")]


def output_format(json_: bool, csv_: bool = False) -> str:
    """``json``, ``csv`` or ``human``; both flags at once is a usage error."""
    from mpos_cli.errors import UsageError

    if json_ and csv_:
        raise UsageError("--json and --csv exclude each other")
    return "json" if json_ else "csv" if csv_ else "human"


def date_range(date: str | None, date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    """Check ``--date`` / ``--from`` / ``--to`` (YYYY-MM-DD) and return (from, to)."""
    from datetime import date as Day

    from mpos_cli.errors import UsageError

    if date and (date_from or date_to):
        raise UsageError("--date excludes --from and --to")
    for label, value in (("--date", date), ("--from", date_from), ("--to", date_to)):
        if value is not None:
            try:
                Day.fromisoformat(value)
            except ValueError:
                raise UsageError(f"{label} wants a date as YYYY-MM-DD, not {value!r}") from None
            if len(value) != 10:
                raise UsageError(f"{label} wants a date as YYYY-MM-DD, not {value!r}")
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
