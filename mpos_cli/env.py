"""The environment a command runs in: home, config, clock, streams.

Tests build their own ``Environment`` (a tmp home, a fixed clock, captured
streams) instead of patching globals; the CLI builds the real one once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from mpos_cli.storage_util import ensure_dir

if TYPE_CHECKING:
    from mpos_cli.config import Config


def default_home(environ: dict[str, str]) -> tuple[Path, Path]:
    """(config dir, data dir): ``$MPOS_HOME`` for both, else platformdirs."""
    if environ.get("MPOS_HOME"):
        home = Path(environ["MPOS_HOME"]).expanduser()
        return home, home
    import platformdirs

    return Path(platformdirs.user_config_dir("mpos")), Path(platformdirs.user_data_dir("mpos"))


@dataclass
class Environment:
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], datetime] | None = None

    @cached_property
    def config_dir(self) -> Path:
        return default_home(self.environ)[0]

    @cached_property
    def data_dir(self) -> Path:
        return default_home(self.environ)[1]

    @property
    def config_path(self) -> Path:
        return self.config_dir / "config.toml"

    @cached_property
    def config(self) -> "Config":
        from mpos_cli import config  # here: ``mpos --help`` reads no settings

        return config.load(self.config_path, self.environ)

    def data_path(self, *parts: str) -> Path:
        """A path under the data home; the folder is created 0700."""
        ensure_dir(self.data_dir)
        return self.data_dir.joinpath(*parts)

    @cached_property
    def timezone(self) -> tzinfo:
        name = self.config["timezone"] or self.environ.get("TZ", "")
        if name:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                return ZoneInfo(name.lstrip(":"))
            except (ZoneInfoNotFoundError, ValueError):
                pass
        return datetime.now().astimezone().tzinfo  # the system's local zone

    def now(self) -> datetime:
        """Timezone-aware local time; business dates come from it."""
        if self.clock is not None:
            return self.clock()
        return datetime.now(self.timezone)

    def business_date(self, moment: datetime | None = None) -> str:
        return (moment or self.now()).date().isoformat()

    @property
    def debug(self) -> bool:
        return self.environ.get("MPOS_DEBUG") == "1"

    @property
    def gateway_key(self) -> str | None:
        """The acquirer secret: environment first, then the OS keyring; never the config."""
        if self.environ.get("MPOS_GATEWAY_KEY"):
            return self.environ["MPOS_GATEWAY_KEY"]
        if self.config["gateway.url"] in ("", "sandbox"):
            return None
        try:
            import keyring

            return keyring.get_password("mpos", "gateway")
        except Exception:  # no keyring backend on a headless box: not an error
            return None
