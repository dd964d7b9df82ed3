"""mpos: a command-line mobile point of sale for sole traders.

The core (this package minus ``commands`` and ``cli``) is a library: it never
prints and never imports typer, so scripts can take payments without the CLI.
"""

__version__ = "0.1.0"
